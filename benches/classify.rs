//! Problem: the classifier runs for every statement, so it must not become
//! the router's bottleneck (issue 4: a median of at most 2 µs per
//! statement over real WordPress queries). This criterion benchmark
//! classifies the corpus in `bench/corpus/` (`wordpress.sql`, plus
//! `wordpress-general-log.sql` when present): `classify/corpus` reports the
//! mean time per statement over the whole corpus, `classify/statement/NN`
//! each statement's own time (their median is the number).
//!
//! Run: `cargo bench --bench classify` (add `-- corpus` for the corpus
//! figure only).

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use sqlyard::router::classify;

/// The statements of the corpus files: blocks separated by a line that
/// holds only `;;`.
fn corpus() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/corpus");
    let mut out = Vec::new();
    for name in ["wordpress.sql", "wordpress-general-log.sql"] {
        let Ok(text) = std::fs::read_to_string(dir.join(name)) else {
            continue;
        };
        let mut cur = String::new();
        for line in text.lines() {
            if line.trim() == ";;" {
                push(&mut out, &mut cur);
            } else {
                cur.push_str(line);
                cur.push('\n');
            }
        }
        push(&mut out, &mut cur);
    }
    out
}

fn push(out: &mut Vec<String>, cur: &mut String) {
    let s = cur.trim();
    if !s.is_empty() {
        out.push(s.to_string());
    }
    cur.clear();
}

fn bench(c: &mut Criterion) {
    let stmts = corpus();
    let n = stmts.len() as u32;
    c.bench_function("classify/corpus", |b| {
        // one "iteration" = one statement, on average over the corpus
        b.iter_custom(|iters| {
            let start = Instant::now();
            for _ in 0..iters {
                for s in &stmts {
                    black_box(classify(black_box(s.as_bytes())));
                }
            }
            start.elapsed() / n.max(1)
        })
    });
    let mut g = c.benchmark_group("classify/statement");
    g.sample_size(20)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(600));
    for (i, s) in stmts.iter().enumerate() {
        g.bench_function(format!("{i:03}"), |b| {
            b.iter(|| black_box(classify(black_box(s.as_bytes()))))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
