//! STUB until images lands: PNG text chunks, with the signature the API layer compiles against.

use super::decode::ImageError;

/// The tEXt/iTXt/zTXt chunks of a PNG as (keyword, text), in file order.
pub fn read_text_chunks(bytes: &[u8]) -> Result<Vec<(String, String)>, ImageError> {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let reader = decoder.read_info().map_err(|e| ImageError::Corrupt(e.to_string()))?;
    let info = reader.info();
    let mut out: Vec<(String, String)> = info
        .uncompressed_latin1_text
        .iter()
        .map(|t| (t.keyword.clone(), t.text.clone()))
        .collect();
    out.extend(
        info.utf8_text
            .iter()
            .filter_map(|t| t.get_text().ok().map(|s| (t.keyword.clone(), s))),
    );
    Ok(out)
}
