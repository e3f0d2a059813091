//! Writes the receive-path benchmark bodies (`a.json`, `b.json`, `c.json`) into a folder, so
//! that other programs (the Node handler in `scripts/bench`) time the very same bytes.
//!
//! `cargo run --release -p soketi-handler-kit --example bench_envelopes -- OUT_DIR`

#[path = "../benches/support/envelopes.rs"]
mod envelopes;

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "target/bench-envelopes".to_owned());
    std::fs::create_dir_all(&dir)?;
    for (case, body) in envelopes::all() {
        let path = std::path::Path::new(&dir).join(format!("{case}.json"));
        std::fs::write(&path, &body)?;
        println!("{} {} bytes", path.display(), body.len());
    }
    Ok(())
}
