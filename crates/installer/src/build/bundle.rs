//! The function's zips carried inside the `installer` executable, so that one file deploys the
//! stack from any directory, with no Rust, zig or checkout. Each zip is appended after the
//! executable's image, followed by a 16-byte trailer: the zip's length (little-endian `u64`) and
//! [`MAGIC`]. A release installer carries one zip per architecture, one after the other; they are
//! read back from the file's end, trailer by trailer. The loader ignores bytes past the image, so
//! the program runs as before; the installer finds its zips by reading its own file's end
//! ([`embedded`]). `installer bundle` (and `make dist`) writes such a file from an installer and
//! zips made by `installer build`, so each zip carried is byte for byte the one `build` wrote.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

/// Marks a trailer: "backup-lambda zip, layout 1".
pub const MAGIC: &[u8; 8] = b"BKLZIP01";
/// The trailer's size: the length and the magic.
const TRAILER: u64 = 16;
/// No zip carried is larger (Lambda's direct-upload limit is 50 MB).
const MAX_ZIP: u64 = 50 * 1024 * 1024;
/// No installer carries more zips than this (one per architecture, with room to spare).
const MAX_ZIPS: usize = 4;

/// Writes `out`: the executable `installer` (without any zips it already carries), then each of
/// `zips` with its trailer; mode 0755.
pub fn write(installer: &Path, zips: &[&[u8]], out: &Path) -> io::Result<()> {
    let mut image = std::fs::read(installer)?;
    let carried = carried_len(&image);
    image.truncate(image.len() - carried);
    for zip in zips {
        image.extend_from_slice(zip);
        image.extend_from_slice(&(zip.len() as u64).to_le_bytes());
        image.extend_from_slice(MAGIC);
    }
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

/// How many bytes at the end of `image` are carried zips and their trailers (0 if none).
fn carried_len(image: &[u8]) -> usize {
    let mut end = image.len();
    for _ in 0..MAX_ZIPS {
        let Some(zip) = zip_before(end as u64, |at| {
            image
                .get(at as usize..at as usize + TRAILER as usize)
                .map(|t| {
                    let mut trailer = [0u8; TRAILER as usize];
                    trailer.copy_from_slice(t);
                    trailer
                })
        }) else {
            break;
        };
        end -= (zip + TRAILER) as usize;
    }
    image.len() - end
}

/// The length of the zip whose trailer ends at `end`, if the bytes there are a trailer;
/// `trailer_at(offset)` reads the 16 bytes at `offset`.
fn zip_before(
    end: u64,
    trailer_at: impl FnOnce(u64) -> Option<[u8; TRAILER as usize]>,
) -> Option<u64> {
    let trailer = trailer_at(end.checked_sub(TRAILER)?)?;
    if &trailer[8..] != MAGIC {
        return None;
    }
    let zip = u64::from_le_bytes(trailer[..8].try_into().ok()?);
    (zip <= MAX_ZIP && zip + TRAILER <= end).then_some(zip)
}

/// The zips this executable carries, in the order they were bundled (none if it carries none).
pub fn embedded() -> Vec<Vec<u8>> {
    std::env::current_exe()
        .and_then(File::open)
        .and_then(|mut file| read_carried(&mut file))
        .unwrap_or_default()
}

/// The zips carried at the end of `file`, in the order they were bundled.
fn read_carried(file: &mut File) -> io::Result<Vec<Vec<u8>>> {
    let mut end = file.seek(SeekFrom::End(0))?;
    let mut zips = Vec::new();
    while zips.len() < MAX_ZIPS {
        let Some(zip) = zip_before(end, |at| {
            let mut trailer = [0u8; TRAILER as usize];
            file.seek(SeekFrom::Start(at)).ok()?;
            file.read_exact(&mut trailer).ok()?;
            Some(trailer)
        }) else {
            break;
        };
        let start = end - TRAILER - zip;
        file.seek(SeekFrom::Start(start))?;
        let mut bytes = vec![0u8; usize::try_from(zip).unwrap_or(0)];
        file.read_exact(&mut bytes)?;
        zips.push(bytes);
        end = start;
    }
    zips.reverse();
    Ok(zips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn carried_zips_read_back_in_order_and_rebundling_replaces_them() {
        let dir = std::env::temp_dir().join(format!("bundle-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("installer");
        std::fs::write(&exe, b"\x7fELF pretend image").unwrap();
        let out = dir.join("bundled");
        write(&exe, &[b"first zip", b"second zip"], &out).unwrap();
        let read = |p: &Path| read_carried(&mut File::open(p).unwrap()).unwrap();
        assert_eq!(read(&out), [b"first zip".to_vec(), b"second zip".to_vec()]);
        assert_eq!(
            read(&exe),
            Vec::<Vec<u8>>::new(),
            "a plain executable carries nothing"
        );
        // Bundling a bundled file again carries the new zip only.
        let again = dir.join("again");
        write(&out, &[b"third"], &again).unwrap();
        assert_eq!(read(&again), [b"third".to_vec()]);
        let size = std::fs::metadata(&again).unwrap().len();
        assert_eq!(size, b"\x7fELF pretend image".len() as u64 + 5 + 16);
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
        assert_eq!(carried_len(&image), 0);
    }
}
