//! `torch.save` files (.pt / .bin) read through the restricted pickle machine: the zip format
//! (`<dir>/data.pkl` + `<dir>/data/<key>` storages, torch ≥ 1.6) and the legacy stream format
//! (magic number, protocol, sys info, the object, the storage keys, then each storage's bytes).

use std::collections::HashMap;
use std::io::{Cursor, Read};

use super::TiError;
use super::pickle::{Obj, Unpickled, unpickle};
use super::value::{Value, from_pickle};

/// Largest member of a torch zip we read (an embedding is a few hundred KiB).
const MAX_MEMBER: u64 = 256 << 20;

pub fn read_torch(bytes: &[u8]) -> Result<Value, TiError> {
    if bytes.starts_with(b"PK\x03\x04") {
        read_zip(bytes)
    } else {
        read_legacy(bytes)
    }
}

fn read_member(zip: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, TiError> {
    let file = zip.by_name(name).map_err(|e| TiError::Format(format!("{name}: {e}")))?;
    if file.size() > MAX_MEMBER {
        return Err(TiError::Format(format!("{name} is too large")));
    }
    let mut out = Vec::with_capacity(file.size() as usize);
    file.take(MAX_MEMBER + 1)
        .read_to_end(&mut out)
        .map_err(|e| TiError::Format(format!("{name}: {e}")))?;
    if out.len() as u64 > MAX_MEMBER {
        return Err(TiError::Format(format!("{name} is too large")));
    }
    Ok(out)
}

fn read_zip(bytes: &[u8]) -> Result<Value, TiError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| TiError::Format(format!("zip: {e}")))?;
    let names: Vec<String> = zip.file_names().map(str::to_owned).collect();
    let pkls: Vec<&String> = names
        .iter()
        .filter(|n| n.ends_with("/data.pkl") && n.matches('/').count() == 1)
        .collect();
    let pkl = match pkls.as_slice() {
        [one] => (*one).clone(),
        [] => return Err(TiError::Format("data.pkl not found in the torch zip".into())),
        _ => return Err(TiError::Format("several data.pkl in the torch zip".into())),
    };
    let prefix = &pkl[..pkl.len() - "data.pkl".len()];
    let byteorder = format!("{prefix}byteorder");
    if names.contains(&byteorder) {
        let order = read_member(&mut zip, &byteorder)?;
        if order.trim_ascii() != b"little" {
            return Err(TiError::Format("big-endian torch files are not supported".into()));
        }
    }
    let data = read_member(&mut zip, &pkl)?;
    let (u, _) = unpickle(&data)?;
    let mut storages: HashMap<String, Vec<u8>> = HashMap::new();
    for key in storage_keys(&u) {
        let name = format!("{prefix}data/{key}");
        let bytes = read_member(&mut zip, &name)?;
        storages.insert(key, bytes);
    }
    from_pickle(&u, &|k| storages.get(k).map(Vec::as_slice))
}

fn storage_keys(u: &Unpickled) -> Vec<String> {
    let mut keys: Vec<String> = u
        .heap
        .iter()
        .filter_map(|o| match o {
            Obj::Storage(s) => Some(s.key.clone()),
            Obj::Tensor(t) => Some(t.storage.key.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// `0x1950a86a20f9469cfc6c`, the legacy format's magic number, as pickled (little-endian).
const MAGIC: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];

fn read_legacy(bytes: &[u8]) -> Result<Value, TiError> {
    let not_torch = || TiError::Format("not a torch file (neither a zip nor the legacy format)".into());
    let (magic, mut pos) = unpickle(bytes).map_err(|_| not_torch())?;
    if !matches!(magic.get(magic.root), Obj::BigInt(b) if b.as_slice() == MAGIC) {
        return Err(not_torch());
    }
    let (_protocol, used) = unpickle(&bytes[pos..])?;
    pos += used;
    let (sys_info, used) = unpickle(&bytes[pos..])?;
    pos += used;
    if let Obj::Dict(pairs) = sys_info.get(sys_info.root) {
        for &(k, v) in pairs {
            if matches!(sys_info.get(k), Obj::Str(s) if s == "little_endian")
                && matches!(sys_info.get(v), Obj::Bool(false))
            {
                return Err(TiError::Format("big-endian torch files are not supported".into()));
            }
        }
    }
    let (main, used) = unpickle(&bytes[pos..])?;
    pos += used;
    let (keys, used) = unpickle(&bytes[pos..])?;
    pos += used;
    let key_list: Vec<String> = match keys.get(keys.root) {
        Obj::List(ids) | Obj::Tuple(ids) => ids
            .iter()
            .map(|&i| match keys.get(i) {
                Obj::Str(s) => Ok(s.clone()),
                _ => Err(TiError::Format("storage key is not a string".into())),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err(TiError::Format("storage key list missing".into())),
    };
    let sizes: HashMap<String, usize> = main
        .heap
        .iter()
        .filter_map(|o| match o {
            Obj::Storage(s) => Some((s.key.clone(), s.dtype.size())),
            Obj::Tensor(t) => Some((t.storage.key.clone(), t.storage.dtype.size())),
            _ => None,
        })
        .collect();
    let mut storages: HashMap<String, &[u8]> = HashMap::new();
    for key in key_list {
        let es = *sizes
            .get(&key)
            .ok_or_else(|| TiError::Format(format!("storage {key} has no type")))?;
        let header = bytes
            .get(pos..pos + 8)
            .ok_or_else(|| TiError::Format("truncated storage".into()))?;
        let numel = u64::from_le_bytes(
            header
                .try_into()
                .map_err(|_| TiError::Format("truncated storage".into()))?,
        );
        let len = usize::try_from(numel)
            .ok()
            .and_then(|n| n.checked_mul(es))
            .ok_or_else(|| TiError::Format("storage too large".into()))?;
        let start = pos + 8;
        let data = start
            .checked_add(len)
            .and_then(|end| bytes.get(start..end))
            .ok_or_else(|| TiError::Format("truncated storage".into()))?;
        storages.insert(key, data);
        pos = start + len;
    }
    from_pickle(&main, &|k| storages.get(k).copied())
}
