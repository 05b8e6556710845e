//! Robustness, measured: files of the example project mutated (truncated, bytes flipped,
//! tokens swapped, deeply nested, huge values), seeded and reproducible, each compiled in
//! process. No input may panic or hang the compiler, and every rejected input gets at least one
//! error diagnostic with a file and a line. `STRATA_MUTATIONS=N` sets the number of cases
//! (default 3,000) and `STRATA_MUTATION_SEED` the seed; `bench/mutation.sh` runs 100,000.

mod common;

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use strata::project::LoadOptions;

/// xorshift64*: small, seeded, and the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// One mutation of `text`, as bytes (a flipped byte may leave UTF-8).
fn mutate(rng: &mut Rng, text: &str) -> (Vec<u8>, &'static str) {
    let bytes = text.as_bytes();
    let at = rng.below(bytes.len() + 1);
    match rng.below(6) {
        0 => (bytes[..at].to_vec(), "truncated"),
        1 => {
            let mut b = bytes.to_vec();
            if !b.is_empty() {
                let i = at.min(b.len() - 1);
                b[i] ^= 1 << rng.below(8);
            }
            (b, "byte flipped")
        }
        2 => {
            let mut words: Vec<&str> = text.split(' ').collect();
            let (i, j) = (rng.below(words.len()), rng.below(words.len()));
            words.swap(i, j);
            (words.join(" ").into_bytes(), "tokens swapped")
        }
        3 => {
            let depth = 50 + rng.below(400);
            let (open, close) = match rng.below(4) {
                0 => ("(", ")"),
                1 => ("[", "]"),
                2 => ("{% if true %}", "{% endif %}"),
                _ => ("{", "}"),
            };
            let mut b = bytes[..at].to_vec();
            b.extend(open.repeat(depth).as_bytes());
            b.extend(close.repeat(depth).as_bytes());
            b.extend(&bytes[at..]);
            (b, "deep nesting")
        }
        4 => {
            let mut b = bytes[..at].to_vec();
            b.extend("x".repeat(100_000 + rng.below(200_000)).as_bytes());
            b.extend(&bytes[at..]);
            (b, "huge value")
        }
        _ => {
            let mut b = bytes[..at].to_vec();
            let junk = [
                "'", "\"", "{{", "}}", "{%", "%}", ":", "- ", "\t", ";", ",", "\n  - x:",
            ];
            b.extend(junk[rng.below(junk.len())].as_bytes());
            b.extend(&bytes[at..]);
            (b, "character inserted")
        }
    }
}

/// The files a mutation may touch: the example's own text files.
fn project_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().to_path_buf())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("sql" | "yml" | "yaml" | "csv" | "json")
            )
        })
        .collect();
    files.sort();
    files
}

/// Compiles `dir` on a thread with the main thread's stack size, within `limit`; `None` on a
/// hang, `Some(Err(message))` on a panic.
fn compile(
    dir: &Path,
    limit: Duration,
) -> Option<Result<Result<(), strata::diagnostics::Diagnostics>, String>> {
    let (tx, rx) = mpsc::channel();
    let dir = dir.to_path_buf();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let r = std::panic::catch_unwind(|| {
                strata::compile::compile(&dir, &LoadOptions::default()).map(|_| ())
            })
            .map_err(|p| {
                p.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            });
            let _ = tx.send(r);
        })
        .unwrap();
    rx.recv_timeout(limit).ok()
}

#[test]
fn mutated_projects_never_panic_or_hang_and_every_rejection_says_where() {
    let cases: usize = std::env::var("STRATA_MUTATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3_000);
    let seed: u64 = std::env::var("STRATA_MUTATION_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_cafe);
    let (_tmp, dir) = common::example_copy();
    let files = project_files(&dir);
    let originals: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let mut rng = Rng(seed);
    let (mut rejected, mut accepted) = (0usize, 0usize);
    for case in 0..cases {
        let k = rng.below(files.len());
        let text = String::from_utf8_lossy(&originals[k]).to_string();
        let (mutated, how) = mutate(&mut rng, &text);
        std::fs::write(&files[k], &mutated).unwrap();
        let what = format!(
            "case {case} (seed {seed}): {how} in {}",
            files[k].strip_prefix(&dir).unwrap().display()
        );
        match compile(&dir, Duration::from_secs(20)) {
            None => panic!("{what}: the compile did not finish within 20 s"),
            Some(Err(panic)) => panic!("{what}: the compiler panicked: {panic}"),
            Some(Ok(Ok(()))) => accepted += 1,
            Some(Ok(Err(diags))) => {
                rejected += 1;
                let located = diags
                    .items()
                    .iter()
                    .any(|d| d.is_error() && d.span.as_ref().is_some_and(|s| s.line >= 1));
                assert!(
                    located,
                    "{what}: rejected without an error at a file and line: {diags:?}"
                );
            }
        }
        std::fs::write(&files[k], &originals[k]).unwrap();
    }
    eprintln!("{cases} mutations (seed {seed}): {rejected} rejected, {accepted} compiled");
    assert!(
        rejected > 0 && accepted > 0,
        "the mutations should both break and spare the project"
    );
}
