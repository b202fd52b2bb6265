//! One digest over every byte of a checkpoint that has no checksum of its own: every
//! attribute of the file, its groups and datasets (but the root's `digest`, which holds
//! it), and the values of every dataset that has no `checksum` attribute. The large
//! arrays (each state variable of each population) carry their own split-independent
//! checksums, checked as they are read, and those are attributes, so the digest covers
//! them too: a change anywhere in the file — a count, the step, a checksum — is found
//! when the checkpoint is opened or restored.
//!
//! The walk is generic (names sorted, each value with its name and type), so that
//! whatever a later format adds to a checkpoint is covered without being listed here.

use crate::digest::Fnv;
use hdf5::types::{FloatSize, IntSize, TypeDescriptor, VarLenUnicode};

/// The root attribute that holds the digest.
pub const ATTRIBUTE: &str = "digest";

/// The digest of the file's contents, as described above.
pub fn digest(file: &hdf5::File) -> hdf5::Result<u64> {
    let mut h = Fnv::default();
    walk(file, "", &mut h)?;
    Ok(h.0)
}

fn walk(group: &hdf5::Group, path: &str, h: &mut Fnv) -> hdf5::Result<()> {
    attributes(group, path, h)?;
    let mut names = group.member_names()?;
    names.sort();
    for name in names {
        let at = format!("{path}/{name}");
        if let Ok(d) = group.dataset(&name) {
            attributes(&d, &at, h)?;
            if d.attr("checksum").is_err() {
                h.text(&at);
                values(&d, &at, h)?;
            }
        } else {
            walk(&group.group(&name)?, &at, h)?;
        }
    }
    Ok(())
}

fn attributes(location: &hdf5::Location, path: &str, h: &mut Fnv) -> hdf5::Result<()> {
    let mut names = location.attr_names()?;
    names.sort();
    // The root's digest holds the result.
    for name in names.into_iter().filter(|n| !path.is_empty() || n != ATTRIBUTE) {
        let attr = location.attr(&name)?;
        h.text(&format!("{path}@{name}"));
        values(&attr, &format!("{path}@{name}"), h)?;
    }
    Ok(())
}

/// A container's shape and values, by its type.
fn values(c: &hdf5::Container, at: &str, h: &mut Fnv) -> hdf5::Result<()> {
    for n in c.shape() {
        h.bytes(&(n as u64).to_le_bytes());
    }
    let descriptor = c.dtype()?.to_descriptor()?;
    h.text(&format!("{descriptor:?}"));
    match descriptor {
        TypeDescriptor::Float(FloatSize::U8) => c.read_raw::<f64>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::Float(FloatSize::U4) => c.read_raw::<f32>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::Unsigned(IntSize::U8) => c.read_raw::<u64>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::Unsigned(IntSize::U4) => c.read_raw::<u32>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::Integer(IntSize::U8) => c.read_raw::<i64>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::Integer(IntSize::U4) => c.read_raw::<i32>()?.iter().for_each(|x| h.bytes(&x.to_le_bytes())),
        TypeDescriptor::VarLenUnicode => c.read_raw::<VarLenUnicode>()?.iter().for_each(|x| h.text(x.as_str())),
        other => return Err(hdf5::Error::from(format!("{at} is of a type a checkpoint does not hold ({other:?})").as_str())),
    }
    Ok(())
}
