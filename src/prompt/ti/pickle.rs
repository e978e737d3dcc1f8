//! A restricted pickle reader: enough of the pickle machine to read the tensors, dicts, lists,
//! numbers and strings that `torch.save` writes, and nothing that runs code.
//!
//! Values live in an arena (so memo references share, as in Python, and nothing recurses on drop).
//! `GLOBAL` names are checked against an allow-list the moment they are read, like the WebUI's
//! `modules/safe.py` `RestrictedUnpickler.find_class`; anything else (`os.system`,
//! `builtins.eval`, `posix.system`, ...) is refused with [`TiError::Forbidden`]. The allowed callables
//! are never "called": `REDUCE` on them builds plain data (a dict, a tensor view, a set).
//! Opcodes that only serve other objects (`INST`, `OBJ`, `EXT*`, `NEWOBJ_EX`, out-of-band buffers)
//! are refused too.

use std::collections::HashMap;

use super::TiError;

/// Element types of torch storages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I16,
    I8,
    U8,
    Bool,
}

impl Dtype {
    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 => 4,
            Dtype::F16 | Dtype::BF16 | Dtype::I16 => 2,
            Dtype::I8 | Dtype::U8 | Dtype::Bool => 1,
        }
    }

    fn from_storage_name(name: &str) -> Option<Self> {
        Some(match name {
            "FloatStorage" => Dtype::F32,
            "HalfStorage" => Dtype::F16,
            "BFloat16Storage" => Dtype::BF16,
            "DoubleStorage" => Dtype::F64,
            "LongStorage" => Dtype::I64,
            "IntStorage" => Dtype::I32,
            "ShortStorage" => Dtype::I16,
            "CharStorage" => Dtype::I8,
            "ByteStorage" => Dtype::U8,
            "BoolStorage" => Dtype::Bool,
            _ => return None,
        })
    }
}

/// The callables and classes a torch file may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Global {
    OrderedDict,
    RebuildTensorV2,
    RebuildParameter,
    Storage(Dtype),
    TorchDtype,
    ParameterDict,
    Set,
    CodecsEncode,
    NumpyScalar,
    NumpyDtype,
}

fn find_class(module: &str, name: &str) -> Result<Global, TiError> {
    let g = match (module, name) {
        ("collections", "OrderedDict") => Global::OrderedDict,
        ("torch._utils", "_rebuild_tensor_v2") => Global::RebuildTensorV2,
        ("torch._utils", "_rebuild_parameter") => Global::RebuildParameter,
        ("torch", "float32" | "float16" | "bfloat16") => Global::TorchDtype,
        ("torch", storage) if Dtype::from_storage_name(storage).is_some() => {
            Global::Storage(Dtype::from_storage_name(storage).unwrap_or(Dtype::F32))
        }
        ("torch.nn.modules.container", "ParameterDict") => Global::ParameterDict,
        ("__builtin__" | "builtins", "set") => Global::Set,
        ("_codecs", "encode") => Global::CodecsEncode,
        ("numpy.core.multiarray" | "numpy._core.multiarray", "scalar") => Global::NumpyScalar,
        ("numpy", "dtype") => Global::NumpyDtype,
        _ => return Err(TiError::Forbidden(format!("{module}.{name}"))),
    };
    Ok(g)
}

pub type Id = usize;

/// A storage reference (`persistent_load`): the dtype, the key of its bytes, its element count.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageRef {
    pub dtype: Dtype,
    pub key: String,
    pub numel: usize,
    /// Legacy (non-zip) files may reference a view of a storage: (offset, numel) in elements.
    pub view: Option<(usize, usize)>,
}

/// `_rebuild_tensor_v2(storage, offset, size, stride, ...)`.
#[derive(Debug, Clone, PartialEq)]
pub struct TensorRef {
    pub storage: StorageRef,
    pub offset: usize,
    pub size: Vec<usize>,
    pub stride: Vec<usize>,
}

/// One value of the arena.
#[derive(Debug, Clone, PartialEq)]
pub enum Obj {
    None,
    Bool(bool),
    Int(i64),
    /// An integer too wide for i64, as little-endian two's complement bytes.
    BigInt(Vec<u8>),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    Tuple(Vec<Id>),
    List(Vec<Id>),
    Dict(Vec<(Id, Id)>),
    Set(Vec<Id>),
    Global(GlobalRef),
    Storage(StorageRef),
    Tensor(TensorRef),
    /// An allowed class instance (a `ParameterDict`) and its `BUILD` state.
    Object {
        state: Option<Id>,
    },
    NumpyDtype(String),
}

/// A global, as a value (opaque to callers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GlobalRef(Global);

/// Limits that keep a hostile file from using unbounded memory.
const MAX_NODES: usize = 1 << 20;
const MAX_STACK: usize = 1 << 16;
const MAX_ELEMENTS: usize = 1 << 26;

/// The result of one pickle: the arena and the root.
#[derive(Debug)]
pub struct Unpickled {
    pub heap: Vec<Obj>,
    pub root: Id,
}

impl Unpickled {
    pub fn get(&self, id: Id) -> &Obj {
        &self.heap[id]
    }
}

enum Slot {
    Mark,
    Val(Id),
}

struct Machine<'a> {
    data: &'a [u8],
    pos: usize,
    heap: Vec<Obj>,
    stack: Vec<Slot>,
    memo: HashMap<u64, Id>,
}

fn bad(msg: impl Into<String>) -> TiError {
    TiError::Pickle(msg.into())
}

/// Run one pickle from the start of `data`; returns the value and the bytes consumed.
pub fn unpickle(data: &[u8]) -> Result<(Unpickled, usize), TiError> {
    let mut m = Machine {
        data,
        pos: 0,
        heap: Vec::new(),
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    let used = m.pos;
    Ok((Unpickled { heap: m.heap, root }, used))
}

impl<'a> Machine<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TiError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.data.len())
            .ok_or_else(|| bad("truncated pickle"))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self) -> Result<u8, TiError> {
        Ok(self.take(1)?[0])
    }

    fn le(&mut self, n: usize) -> Result<u64, TiError> {
        let b = self.take(n)?;
        Ok(b.iter().rev().fold(0u64, |acc, &x| (acc << 8) | u64::from(x)))
    }

    fn line(&mut self) -> Result<&'a str, TiError> {
        let rest = &self.data[self.pos..];
        let n = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("truncated pickle line"))?;
        let s = std::str::from_utf8(&rest[..n]).map_err(|_| bad("pickle text line is not UTF-8"))?;
        self.pos += n + 1;
        Ok(s)
    }

    fn alloc(&mut self, o: Obj) -> Result<Id, TiError> {
        if self.heap.len() >= MAX_NODES {
            return Err(bad("pickle has too many objects"));
        }
        self.heap.push(o);
        Ok(self.heap.len() - 1)
    }

    fn push(&mut self, o: Obj) -> Result<(), TiError> {
        let id = self.alloc(o)?;
        self.push_id(id)
    }

    fn push_id(&mut self, id: Id) -> Result<(), TiError> {
        if self.stack.len() >= MAX_STACK {
            return Err(bad("pickle stack too deep"));
        }
        self.stack.push(Slot::Val(id));
        Ok(())
    }

    fn pop(&mut self) -> Result<Id, TiError> {
        match self.stack.pop() {
            Some(Slot::Val(id)) => Ok(id),
            Some(Slot::Mark) => Err(bad("unexpected MARK on the pickle stack")),
            None => Err(bad("pickle stack underflow")),
        }
    }

    fn top(&self) -> Result<Id, TiError> {
        match self.stack.last() {
            Some(Slot::Val(id)) => Ok(*id),
            _ => Err(bad("pickle stack underflow")),
        }
    }

    /// Everything above the topmost MARK, which is removed.
    fn pop_mark(&mut self) -> Result<Vec<Id>, TiError> {
        let mark = self
            .stack
            .iter()
            .rposition(|s| matches!(s, Slot::Mark))
            .ok_or_else(|| bad("pickle MARK missing"))?;
        let items = self
            .stack
            .drain(mark + 1..)
            .map(|s| match s {
                Slot::Val(id) => id,
                Slot::Mark => 0,
            })
            .collect();
        self.stack.pop();
        Ok(items)
    }

    fn str_of(&self, id: Id) -> Result<&str, TiError> {
        match &self.heap[id] {
            Obj::Str(s) => Ok(s),
            other => Err(bad(format!("expected a string in the pickle, found {}", kind(other)))),
        }
    }

    fn int_of(&self, id: Id) -> Result<i64, TiError> {
        match &self.heap[id] {
            Obj::Int(i) => Ok(*i),
            Obj::Bool(b) => Ok(i64::from(*b)),
            other => Err(bad(format!("expected an integer in the pickle, found {}", kind(other)))),
        }
    }

    fn usize_of(&self, id: Id) -> Result<usize, TiError> {
        usize::try_from(self.int_of(id)?).map_err(|_| bad("negative size in the pickle"))
    }

    fn tuple_items(&self, id: Id) -> Result<Vec<Id>, TiError> {
        match &self.heap[id] {
            Obj::Tuple(v) | Obj::List(v) => Ok(v.clone()),
            other => Err(bad(format!("expected a tuple in the pickle, found {}", kind(other)))),
        }
    }

    fn memo_put(&mut self, key: u64) -> Result<(), TiError> {
        let id = self.top()?;
        if self.memo.len() >= MAX_NODES {
            return Err(bad("pickle memo too large"));
        }
        self.memo.insert(key, id);
        Ok(())
    }

    fn memo_get(&mut self, key: u64) -> Result<(), TiError> {
        let id = *self.memo.get(&key).ok_or_else(|| bad("pickle memo key missing"))?;
        self.push_id(id)
    }

    fn set_item(&mut self, dict: Id, k: Id, v: Id) -> Result<(), TiError> {
        let same_key = |heap: &[Obj], a: Id, b: Id| match (&heap[a], &heap[b]) {
            (Obj::Str(x), Obj::Str(y)) => x == y,
            (Obj::Int(x), Obj::Int(y)) => x == y,
            _ => false,
        };
        let existing = match &self.heap[dict] {
            Obj::Dict(pairs) => pairs.iter().position(|&(pk, _)| same_key(&self.heap, pk, k)),
            other => return Err(bad(format!("SETITEM on {}", kind(other)))),
        };
        if let Obj::Dict(pairs) = &mut self.heap[dict] {
            match existing {
                Some(i) => pairs[i].1 = v,
                None => pairs.push((k, v)),
            }
        }
        Ok(())
    }

    fn run(&mut self) -> Result<Id, TiError> {
        loop {
            let op = self.u8()?;
            match op {
                0x80 => {
                    let proto = self.u8()?;
                    if proto > 5 {
                        return Err(bad(format!("pickle protocol {proto} is not supported")));
                    }
                }
                0x95 => {
                    self.take(8)?;
                }
                b'.' => return self.pop(),
                b'(' => {
                    if self.stack.len() >= MAX_STACK {
                        return Err(bad("pickle stack too deep"));
                    }
                    self.stack.push(Slot::Mark);
                }
                b'0' => {
                    self.stack.pop().ok_or_else(|| bad("pickle stack underflow"))?;
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let id = self.top()?;
                    self.push_id(id)?;
                }
                b'N' => self.push(Obj::None)?,
                0x88 => self.push(Obj::Bool(true))?,
                0x89 => self.push(Obj::Bool(false))?,
                b'J' => {
                    let v = self.le(4)? as u32 as i32;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'K' => {
                    let v = self.u8()?;
                    self.push(Obj::Int(i64::from(v)))?;
                }
                b'M' => {
                    let v = self.le(2)?;
                    self.push(Obj::Int(v as i64))?;
                }
                0x8a | 0x8b => {
                    let n = if op == 0x8a {
                        self.u8()? as usize
                    } else {
                        self.le(4)? as usize
                    };
                    let bytes = self.take(n)?.to_vec();
                    self.push(long_from_bytes(bytes))?;
                }
                b'I' => {
                    let line = self.line()?;
                    let o = match line {
                        "00" => Obj::Bool(false),
                        "01" => Obj::Bool(true),
                        _ => Obj::Int(line.trim().parse().map_err(|_| bad("bad INT in pickle"))?),
                    };
                    self.push(o)?;
                }
                b'L' => {
                    let line = self.line()?;
                    let v = line
                        .trim()
                        .trim_end_matches('L')
                        .parse()
                        .map_err(|_| bad("bad LONG in pickle"))?;
                    self.push(Obj::Int(v))?;
                }
                b'G' => {
                    let v = f64::from_bits(u64::from_be_bytes(
                        self.take(8)?.try_into().map_err(|_| bad("truncated pickle"))?,
                    ));
                    self.push(Obj::Float(v))?;
                }
                b'F' => {
                    let line = self.line()?;
                    let v = line.trim().parse().map_err(|_| bad("bad FLOAT in pickle"))?;
                    self.push(Obj::Float(v))?;
                }
                b'X' | 0x8c | 0x8d => {
                    let n = match op {
                        b'X' => self.le(4)? as usize,
                        0x8c => self.u8()? as usize,
                        _ => usize::try_from(self.le(8)?).map_err(|_| bad("string too long"))?,
                    };
                    let s = std::str::from_utf8(self.take(n)?).map_err(|_| bad("pickle string is not UTF-8"))?;
                    self.push(Obj::Str(s.to_owned()))?;
                }
                b'T' | b'U' => {
                    // Python 2 byte strings: torch wrote storage keys and names this way; read as Latin-1.
                    let n = if op == b'T' {
                        self.le(4)? as usize
                    } else {
                        self.u8()? as usize
                    };
                    let s: String = self.take(n)?.iter().map(|&b| char::from(b)).collect();
                    self.push(Obj::Str(s))?;
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let n = match op {
                        b'B' => self.le(4)? as usize,
                        b'C' => self.u8()? as usize,
                        _ => usize::try_from(self.le(8)?).map_err(|_| bad("bytes too long"))?,
                    };
                    let b = self.take(n)?.to_vec();
                    self.push(Obj::Bytes(b))?;
                }
                b')' => self.push(Obj::Tuple(Vec::new()))?,
                b']' => self.push(Obj::List(Vec::new()))?,
                b'}' => self.push(Obj::Dict(Vec::new()))?,
                0x8f => self.push(Obj::Set(Vec::new()))?,
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Tuple(items))?;
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Obj::Tuple(items))?;
                }
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Obj::List(items))?;
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Obj::Set(items))?;
                }
                b'd' => {
                    let items = self.pop_mark()?;
                    let dict = self.alloc(Obj::Dict(Vec::new()))?;
                    for pair in items.chunks(2) {
                        if let [k, v] = *pair {
                            self.set_item(dict, k, v)?;
                        }
                    }
                    self.push_id(dict)?;
                }
                b'a' => {
                    let v = self.pop()?;
                    let list = self.top()?;
                    self.extend(list, vec![v])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.extend(list, items)?;
                }
                0x90 => {
                    let items = self.pop_mark()?;
                    let set = self.top()?;
                    match &mut self.heap[set] {
                        Obj::Set(v) => v.extend(items),
                        other => return Err(bad(format!("ADDITEMS on {}", kind(other)))),
                    }
                }
                b's' => {
                    let v = self.pop()?;
                    let k = self.pop()?;
                    let dict = self.top()?;
                    self.set_item(dict, k, v)?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let dict = self.top()?;
                    for pair in items.chunks(2) {
                        if let [k, v] = *pair {
                            self.set_item(dict, k, v)?;
                        }
                    }
                }
                b'p' => {
                    let key = self.line()?.trim().parse().map_err(|_| bad("bad PUT in pickle"))?;
                    self.memo_put(key)?;
                }
                b'q' => {
                    let key = u64::from(self.u8()?);
                    self.memo_put(key)?;
                }
                b'r' => {
                    let key = self.le(4)?;
                    self.memo_put(key)?;
                }
                0x94 => {
                    let key = self.memo.len() as u64;
                    self.memo_put(key)?;
                }
                b'g' => {
                    let key = self.line()?.trim().parse().map_err(|_| bad("bad GET in pickle"))?;
                    self.memo_get(key)?;
                }
                b'h' => {
                    let key = u64::from(self.u8()?);
                    self.memo_get(key)?;
                }
                b'j' => {
                    let key = self.le(4)?;
                    self.memo_get(key)?;
                }
                b'c' => {
                    let module = self.line()?;
                    let name = self.line()?;
                    let g = find_class(module, name)?;
                    self.push(Obj::Global(GlobalRef(g)))?;
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let g = find_class(self.str_of(module)?, self.str_of(name)?)?;
                    self.push(Obj::Global(GlobalRef(g)))?;
                }
                b'R' => {
                    let args = self.pop()?;
                    let func = self.pop()?;
                    let o = self.reduce(func, args)?;
                    self.push(o)?;
                }
                0x81 => {
                    let _args = self.pop()?;
                    let cls = self.pop()?;
                    match &self.heap[cls] {
                        Obj::Global(GlobalRef(Global::ParameterDict)) => self.push(Obj::Object { state: None })?,
                        Obj::Global(GlobalRef(Global::OrderedDict)) => self.push(Obj::Dict(Vec::new()))?,
                        other => return Err(bad(format!("NEWOBJ of {}", kind(other)))),
                    }
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    if let Obj::Object { state: s } = &mut self.heap[obj] {
                        *s = Some(state);
                    }
                    // Other objects (tensors, dicts) keep no state we read: it is dropped, never applied.
                }
                b'Q' => {
                    let pid = self.pop()?;
                    let o = self.persistent_load(pid)?;
                    self.push(o)?;
                }
                b'P' => return Err(bad("text persistent ids are not supported")),
                b'i' | b'o' => return Err(TiError::Forbidden("pickle INST/OBJ instruction".into())),
                0x82..=0x84 => return Err(TiError::Forbidden("pickle extension registry".into())),
                0x92 => return Err(TiError::Forbidden("pickle NEWOBJ_EX instruction".into())),
                0x97 | 0x98 => return Err(bad("out-of-band pickle buffers are not supported")),
                b'S' | b'V' => return Err(bad("text-protocol strings are not supported")),
                other => return Err(bad(format!("unknown pickle opcode 0x{other:02x}"))),
            }
        }
    }

    fn extend(&mut self, list: Id, items: Vec<Id>) -> Result<(), TiError> {
        match &mut self.heap[list] {
            Obj::List(v) => {
                v.extend(items);
                Ok(())
            }
            other => Err(bad(format!("APPEND on {}", kind(other)))),
        }
    }

    fn persistent_load(&mut self, pid: Id) -> Result<Obj, TiError> {
        let items = self.tuple_items(pid)?;
        if items.len() < 5 || self.str_of(items[0])? != "storage" {
            return Err(bad("persistent id is not a torch storage"));
        }
        let dtype = match &self.heap[items[1]] {
            Obj::Global(GlobalRef(Global::Storage(d))) => *d,
            other => return Err(bad(format!("storage type is {}", kind(other)))),
        };
        let key = self.str_of(items[2])?.to_owned();
        let numel = self.usize_of(items[4])?;
        let view = match items.get(5).map(|&v| &self.heap[v]) {
            Some(Obj::Tuple(v)) if v.len() == 3 => {
                let (offset, size) = (v[1], v[2]);
                Some((self.usize_of(offset)?, self.usize_of(size)?))
            }
            _ => None,
        };
        Ok(Obj::Storage(StorageRef {
            dtype,
            key,
            numel,
            view,
        }))
    }

    fn reduce(&mut self, func: Id, args: Id) -> Result<Obj, TiError> {
        let g = match &self.heap[func] {
            Obj::Global(GlobalRef(g)) => *g,
            other => return Err(bad(format!("REDUCE of {}", kind(other)))),
        };
        let a = self.tuple_items(args)?;
        match g {
            Global::OrderedDict => {
                let dict = Obj::Dict(Vec::new());
                if let Some(&pairs) = a.first() {
                    let id = self.alloc(dict)?;
                    for p in self.tuple_items(pairs)? {
                        let kv = self.tuple_items(p)?;
                        if let [k, v] = kv[..] {
                            self.set_item(id, k, v)?;
                        }
                    }
                    return Ok(self.heap[id].clone());
                }
                Ok(dict)
            }
            Global::RebuildTensorV2 => {
                if a.len() < 4 {
                    return Err(bad("_rebuild_tensor_v2 needs storage, offset, size, stride"));
                }
                let storage = match &self.heap[a[0]] {
                    Obj::Storage(s) => s.clone(),
                    other => return Err(bad(format!("tensor storage is {}", kind(other)))),
                };
                let offset = self.usize_of(a[1])?;
                let size = self
                    .tuple_items(a[2])?
                    .into_iter()
                    .map(|i| self.usize_of(i))
                    .collect::<Result<Vec<_>, _>>()?;
                let stride = self
                    .tuple_items(a[3])?
                    .into_iter()
                    .map(|i| self.usize_of(i))
                    .collect::<Result<Vec<_>, _>>()?;
                if size.len() != stride.len() || size.len() > 8 {
                    return Err(bad("tensor size and stride disagree"));
                }
                let numel = size.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
                if numel.is_none_or(|n| n > MAX_ELEMENTS) {
                    return Err(bad("tensor too large"));
                }
                Ok(Obj::Tensor(TensorRef {
                    storage,
                    offset,
                    size,
                    stride,
                }))
            }
            Global::RebuildParameter => {
                let t = *a.first().ok_or_else(|| bad("_rebuild_parameter needs a tensor"))?;
                Ok(self.heap[t].clone())
            }
            Global::Set => {
                let items = match a.first() {
                    Some(&l) => self.tuple_items(l)?,
                    None => Vec::new(),
                };
                Ok(Obj::Set(items))
            }
            Global::CodecsEncode => {
                let s = self.str_of(*a.first().ok_or_else(|| bad("_codecs.encode needs a string"))?)?;
                // torch/numpy only use latin1 here: each char is one byte.
                let bytes = s.chars().map(|c| u8::try_from(u32::from(c)).unwrap_or(b'?')).collect();
                Ok(Obj::Bytes(bytes))
            }
            Global::NumpyDtype => {
                let s = self.str_of(*a.first().ok_or_else(|| bad("numpy.dtype needs a name"))?)?;
                Ok(Obj::NumpyDtype(s.to_owned()))
            }
            Global::NumpyScalar => {
                let (Some(&d), Some(&b)) = (a.first(), a.get(1)) else {
                    return Err(bad("numpy scalar needs a dtype and bytes"));
                };
                let (Obj::NumpyDtype(dt), Obj::Bytes(bytes)) = (&self.heap[d], &self.heap[b]) else {
                    return Err(bad("numpy scalar needs a dtype and bytes"));
                };
                numpy_scalar(dt, bytes)
            }
            Global::Storage(_) | Global::TorchDtype | Global::ParameterDict => {
                Err(bad("that global cannot be called here"))
            }
        }
    }
}

fn numpy_scalar(dtype: &str, b: &[u8]) -> Result<Obj, TiError> {
    let arr = |n: usize| -> Result<[u8; 8], TiError> {
        let mut out = [0u8; 8];
        if b.len() != n {
            return Err(bad("numpy scalar has the wrong size"));
        }
        out[..n].copy_from_slice(b);
        Ok(out)
    };
    Ok(match dtype {
        "f8" => Obj::Float(f64::from_le_bytes(arr(8)?)),
        "f4" => Obj::Float(f64::from(f32::from_le_bytes(arr(4)?[..4].try_into().unwrap_or([0; 4])))),
        "i8" => Obj::Int(i64::from_le_bytes(arr(8)?)),
        "i4" => Obj::Int(i64::from(i32::from_le_bytes(arr(4)?[..4].try_into().unwrap_or([0; 4])))),
        "u8" => Obj::Int(i64::try_from(u64::from_le_bytes(arr(8)?)).map_err(|_| bad("numpy u8 too large"))?),
        "b1" => Obj::Bool(b.first().copied().unwrap_or(0) != 0),
        other => return Err(bad(format!("numpy scalar of dtype {other} is not supported"))),
    })
}

fn long_from_bytes(bytes: Vec<u8>) -> Obj {
    if bytes.is_empty() {
        return Obj::Int(0);
    }
    if bytes.len() <= 8 {
        let negative = bytes[bytes.len() - 1] & 0x80 != 0;
        let mut buf = if negative { [0xffu8; 8] } else { [0u8; 8] };
        buf[..bytes.len()].copy_from_slice(&bytes);
        return Obj::Int(i64::from_le_bytes(buf));
    }
    Obj::BigInt(bytes)
}

pub fn kind(o: &Obj) -> &'static str {
    match o {
        Obj::None => "None",
        Obj::Bool(_) => "a bool",
        Obj::Int(_) | Obj::BigInt(_) => "an int",
        Obj::Float(_) => "a float",
        Obj::Str(_) => "a string",
        Obj::Bytes(_) => "bytes",
        Obj::Tuple(_) => "a tuple",
        Obj::List(_) => "a list",
        Obj::Dict(_) => "a dict",
        Obj::Set(_) => "a set",
        Obj::Global(_) => "a class or function",
        Obj::Storage(_) => "a storage",
        Obj::Tensor(_) => "a tensor",
        Obj::Object { .. } => "an object",
        Obj::NumpyDtype(_) => "a numpy dtype",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_os_system() {
        // cos\nsystem\n(S'echo pwned'\ntR.   (protocol 0, as a hand-written exploit)
        let evil = b"cos\nsystem\n(S'echo pwned'\ntR.";
        assert!(matches!(unpickle(evil), Err(TiError::Forbidden(_))));
        let evil2 = b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.";
        assert!(matches!(unpickle(evil2), Err(TiError::Forbidden(_))));
    }

    #[test]
    fn reads_plain_data() {
        // pickle.dumps({'a': [1, 2.5, None, True], 'b': 'x'}, protocol=2)
        let p = b"\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01]q\x02(K\x01G@\x04\x00\x00\x00\x00\x00\x00NI01\neX\x01\x00\x00\x00bq\x03X\x01\x00\x00\x00xq\x04u.";
        let (u, used) = unpickle(p).unwrap();
        assert_eq!(used, p.len());
        let Obj::Dict(pairs) = u.get(u.root) else {
            panic!("not a dict")
        };
        assert_eq!(pairs.len(), 2);
        let Obj::List(items) = u.get(pairs[0].1) else {
            panic!("not a list")
        };
        assert_eq!(u.get(items[1]), &Obj::Float(2.5));
        assert_eq!(u.get(items[3]), &Obj::Bool(true));
    }

    #[test]
    fn survives_garbage() {
        for n in 0..200u32 {
            let bytes: Vec<u8> = (0..64u32)
                .map(|i| (i.wrapping_mul(2654435761).wrapping_add(n * 97) >> 13) as u8)
                .collect();
            let _ = unpickle(&bytes);
        }
        assert!(unpickle(b"\x80\x02]q\x00h\x00a.").is_ok());
    }
}
