//! The strict layer as a process of its own, for tools outside the Rust tests (`make bench`):
//! `strict-proxy http://127.0.0.1:<moto port>` prints the proxy's endpoint on one line, then
//! serves until killed.

use std::io::Write;

fn main() {
    let Some(upstream) = std::env::args().nth(1) else {
        eprintln!("usage: strict-proxy <moto endpoint, e.g. http://127.0.0.1:5000>");
        std::process::exit(2);
    };
    let proxy = test_support::proxy::Proxy::start(&upstream, None);
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{}", proxy.endpoint());
    let _ = out.flush();
    loop {
        std::thread::park();
    }
}
