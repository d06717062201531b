//! The function's zip carried inside the `installer` executable, so that one file deploys the
//! stack from any directory, with no Rust, zig or checkout: the zip is appended after the
//! executable's image, then a 16-byte trailer, the zip's length (little-endian `u64`) and
//! [`MAGIC`]. The loader ignores bytes past the image, so the program runs as before; the
//! installer finds its zip by reading its own file's end ([`embedded`]). `installer bundle`
//! (and `make dist`) writes such a file from an installer and a zip made by `installer build`,
//! so the zip carried is byte for byte the one `build` wrote.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Marks a trailer: "backup-lambda zip, layout 1".
pub const MAGIC: &[u8; 8] = b"BKLZIP01";
/// The trailer's size: the length and the magic.
const TRAILER: u64 = 16;
/// No zip carried is larger (Lambda's direct-upload limit is 50 MB).
const MAX_ZIP: u64 = 50 * 1024 * 1024;

/// Writes `out`: the executable `installer` (without any zip it already carries), then `zip`
/// and the trailer; mode 0755.
pub fn write(installer: &Path, zip: &[u8], out: &Path) -> io::Result<()> {
    let mut image = std::fs::read(installer)?;
    if let Some(carried) = carried_len(&image) {
        image.truncate(image.len() - carried);
    }
    image.extend_from_slice(zip);
    image.extend_from_slice(&(zip.len() as u64).to_le_bytes());
    image.extend_from_slice(MAGIC);
    let mut partial = out.as_os_str().to_owned();
    partial.push(".partial");
    std::fs::write(&partial, &image)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o755))?;
    }
    std::fs::rename(&partial, out)
}

/// How many bytes at the end of `image` are a carried zip and its trailer, if any.
fn carried_len(image: &[u8]) -> Option<usize> {
    let len = image.len() as u64;
    let trailer = image.get(image.len().checked_sub(TRAILER as usize)?..)?;
    if &trailer[8..] != MAGIC {
        return None;
    }
    let zip = u64::from_le_bytes(trailer[..8].try_into().ok()?);
    (zip <= MAX_ZIP && zip + TRAILER <= len).then(|| usize::try_from(zip + TRAILER).ok())?
}

/// The zip this executable carries, if it carries one (read from its own file's end).
pub fn embedded() -> Option<Vec<u8>> {
    let exe = std::env::current_exe().ok()?;
    read_carried(&mut File::open(exe).ok()?).ok()?
}

/// The zip carried at the end of `file`, if there is one.
fn read_carried(file: &mut File) -> io::Result<Option<Vec<u8>>> {
    let len = file.seek(SeekFrom::End(0))?;
    if len < TRAILER {
        return Ok(None);
    }
    file.seek(SeekFrom::End(-(TRAILER as i64)))?;
    let mut trailer = [0u8; TRAILER as usize];
    file.read_exact(&mut trailer)?;
    if &trailer[8..] != MAGIC {
        return Ok(None);
    }
    let zip = u64::from_le_bytes(trailer[..8].try_into().unwrap_or_default());
    if zip > MAX_ZIP || zip + TRAILER > len {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(len - TRAILER - zip))?;
    let mut bytes = vec![0u8; usize::try_from(zip).unwrap_or(0)];
    file.read_exact(&mut bytes)?;
    Ok(Some(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_carried_zip_reads_back_and_rebundling_replaces_it() {
        let dir = std::env::temp_dir().join(format!("bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("installer");
        std::fs::write(&exe, b"\x7fELF pretend image").unwrap();
        let out = dir.join("bundled");
        write(&exe, b"first zip", &out).unwrap();
        let read = |p: &Path| read_carried(&mut File::open(p).unwrap()).unwrap();
        assert_eq!(read(&out).as_deref(), Some(&b"first zip"[..]));
        assert_eq!(read(&exe), None, "a plain executable carries nothing");
        // Bundling a bundled file again carries the new zip only.
        let again = dir.join("again");
        write(&out, b"second", &again).unwrap();
        assert_eq!(read(&again).as_deref(), Some(&b"second"[..]));
        let size = std::fs::metadata(&again).unwrap().len();
        assert_eq!(size, b"\x7fELF pretend image".len() as u64 + 6 + 16);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&again).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o755);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_corrupt_trailer_is_no_zip() {
        let mut image = b"image".to_vec();
        image.extend_from_slice(&(u64::MAX).to_le_bytes());
        image.extend_from_slice(MAGIC);
        assert_eq!(carried_len(&image), None);
    }
}
