import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_DIR = os.path.dirname(HERE)
REPO = os.path.dirname(ONNX_DIR)
sys.path.insert(0, ONNX_DIR)
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TQDM_DISABLE", "1")

FIXTURES = os.path.join(REPO, "tests", "fixtures")
TINY = os.path.join(FIXTURES, "tiny-sd1")
TINY_CKPT = os.path.join(TINY, "checkpoint", "tiny-sd1.safetensors")
TINY_MODEL = os.path.join(TINY, "model")
INPAINT = os.path.join(FIXTURES, "tiny-sd1-inpaint")
