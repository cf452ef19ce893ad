//! The fuzz targets under `cargo test`: every input saved in `fuzz/corpus/<target>/`
//! (seeds, findings and what the fuzzer kept) replayed through its target as libFuzzer
//! would run it, then a short unguided run of mutations of those inputs. A bug panics.
//!
//! The coverage-guided runs are `scripts/fuzz`'s (libFuzzer needs an instrumented build
//! of everything, too long for CI); this run of mutations catches what a few thousand
//! variants of known-good inputs reach, in every CI run. `LOCRIT_FUZZ_SECONDS` (per
//! target, default 4) and `LOCRIT_FUZZ_SEED` (printed by each run) repeat a run.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The input under test, written out by the panic hook when a target fails on it.
static CURRENT: Mutex<Option<(&str, Vec<u8>)>> = Mutex::new(None);

/// The seed of the mutations under way, for the panic hook to tell.
static SEED: Mutex<Option<u64>> = Mutex::new(None);

/// As under libFuzzer: a panic in any task (a Socket.IO handler) fails the run, and the
/// input that caused it is kept in `target/fuzz-findings/`. The hook writes to stderr
/// itself: the test harness's capture of `eprintln!` (and of the default hook) is lost
/// when the process aborts, and a CI run keeps only its log.
fn abort_on_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        std::panic::set_hook(Box::new(move |info| {
            let mut stderr = std::io::stderr().lock();
            let backtrace = std::backtrace::Backtrace::force_capture();
            let _ = writeln!(stderr, "{info}\n{backtrace}");
            if let Ok(current) = CURRENT.try_lock()
                && let Some((name, input)) = current.as_ref()
            {
                let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-findings");
                let file = dir.join(format!("{name}-{}", std::process::id()));
                if std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&file, input))
                    .is_ok()
                {
                    let _ = writeln!(
                        stderr,
                        "the failing input of {name} is in {}",
                        file.display()
                    );
                }
                // Also in the log (most inputs are small).
                const SHOWN: usize = 16 * 1024;
                let hex: String = input
                    .iter()
                    .take(SHOWN)
                    .map(|b| format!("{b:02x}"))
                    .collect();
                let cut = if input.len() > SHOWN { " (cut)" } else { "" };
                let _ = writeln!(
                    stderr,
                    "the failing input of {name}, {} bytes, in hex{cut}: {hex}",
                    input.len()
                );
                if let Ok(seed) = SEED.try_lock()
                    && let Some(seed) = *seed
                {
                    let _ = writeln!(stderr, "a mutation of LOCRIT_FUZZ_SEED={seed}");
                }
            }
            std::process::abort();
        }));
    });
}

fn corpus(name: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(name);
    let mut inputs: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    inputs.sort();
    assert!(!inputs.is_empty(), "{name} has no corpus");
    inputs
}

fn run(name: &'static str, target: locrit_fuzzing::Target, input: Vec<u8>) {
    *CURRENT.lock().unwrap() = Some((name, input.clone()));
    target(&input);
}

/// One test, so one target runs at a time: they share one server (the harness).
#[test]
fn the_saved_corpus_then_mutations_of_it_pass_every_target() {
    abort_on_panic();
    for (name, target) in locrit_fuzzing::TARGETS {
        for input in corpus(name) {
            eprintln!("{name}: {}", input.display());
            run(name, target, std::fs::read(&input).expect("read an input"));
        }
    }
    mutations_of_the_corpus_pass_every_target();
}

/// One random change of the kinds libFuzzer makes: flip, insert, erase, repeat, splice.
fn mutate(rng: &mut StdRng, input: &mut Vec<u8>, other: &[u8]) {
    const INTERESTING: &[&[u8]] = &[
        b"\0",
        b"\xff",
        b"\"",
        b"\\",
        b"{",
        b"}",
        b"[",
        b"]",
        b"%",
        b"../",
        b"\r\n",
        b"\xf0\x9f\x98",
        b"-1",
        b"99999999999999999999",
        b"null",
    ];
    let at = rng.random_range(0..=input.len());
    match rng.random_range(0..6) {
        0 if !input.is_empty() => {
            let i = rng.random_range(0..input.len());
            input[i] ^= 1 << rng.random_range(0..8);
        }
        1 => {
            let piece = INTERESTING[rng.random_range(0..INTERESTING.len())];
            input.splice(at..at, piece.iter().copied());
        }
        2 if !input.is_empty() => {
            let end = (at + rng.random_range(1..=16)).min(input.len());
            input.drain(at.min(end)..end);
        }
        3 if !input.is_empty() => {
            let start = rng.random_range(0..input.len());
            let end = (start + rng.random_range(1..=32)).min(input.len());
            let chunk = input[start..end].to_vec();
            input.splice(at..at, chunk);
        }
        4 if !other.is_empty() => {
            let from = rng.random_range(0..other.len());
            input.truncate(at);
            input.extend_from_slice(&other[from..]);
        }
        _ => input.insert(at, rng.random()),
    }
}

fn mutations_of_the_corpus_pass_every_target() {
    let seconds = std::env::var("LOCRIT_FUZZ_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let seed = std::env::var("LOCRIT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    *SEED.lock().unwrap() = Some(seed);
    eprintln!("mutations: LOCRIT_FUZZ_SEED={seed}, {seconds} s per target");
    let mut rng = StdRng::seed_from_u64(seed);
    for (name, target) in locrit_fuzzing::TARGETS {
        let inputs: Vec<Vec<u8>> = corpus(name)
            .iter()
            .map(|path| std::fs::read(path).expect("read an input"))
            .collect();
        let deadline = Instant::now() + Duration::from_secs(seconds);
        let mut runs = 0;
        while Instant::now() < deadline {
            let mut input = inputs[rng.random_range(0..inputs.len())].clone();
            let other = &inputs[rng.random_range(0..inputs.len())];
            for _ in 0..rng.random_range(1..=4) {
                mutate(&mut rng, &mut input, other);
            }
            run(name, target, input);
            runs += 1;
        }
        eprintln!("{name}: {runs} mutated inputs");
        assert!(runs > 0, "{name} ran");
    }
}
