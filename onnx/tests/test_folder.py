"""Small pieces of the folder writer: the token table's storage type."""
import torch


def test_token_table_is_fp16_only_when_lossless():
    from sdexport.folder import token_table

    exact = torch.tensor([[0.5, -0.0, 65504.0], [1e-7, 3.0, -2.0 ** -24]]).half().float()
    assert token_table(exact, fp16_graph=False).dtype == torch.float16
    assert torch.equal(token_table(exact, fp16_graph=False).float(), exact)
    for inexact in ([[0.1]], [[1e5]], [[float("nan")]], [[1.0 + 2.0 ** -12]]):
        assert token_table(torch.tensor(inexact), fp16_graph=False).dtype == torch.float32, inexact
    # a float16 text encoder gets a float16 table in any case
    assert token_table(torch.tensor([[0.1]]), fp16_graph=True).dtype == torch.float16
