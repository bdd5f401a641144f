//! Loading and validating generated case files: the project's cases copied round-robin into a
//! temporary tree until there are `count` files, then `load_cases` on it (walk, read, parse,
//! check every reference), as every run does before its first trial.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use emconform::case::load_cases;
use emconform::cli::PROJECT_ROOT;

/// A temporary directory with `count` valid case files; removed on drop.
pub struct Generated {
    pub dir: PathBuf,
    pub bytes: u64,
}

impl Drop for Generated {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Writes `count` case files (in folders of 100) made from the project's own.
pub fn generate(count: usize) -> Generated {
    let root = Path::new(PROJECT_ROOT).join("cases");
    let originals: Vec<(String, String)> = walkdir::WalkDir::new(&root)
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .map(|e| {
            let id = e
                .path()
                .strip_prefix(&root)
                .expect("under the root")
                .with_extension("")
                .to_string_lossy()
                .replace('/', "_");
            let text = std::fs::read_to_string(e.path()).expect("a readable case");
            (id, text)
        })
        .collect();
    assert!(
        !originals.is_empty(),
        "no case files under {}",
        root.display()
    );
    let dir = std::env::temp_dir().join(format!("emconform-bench-cases-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut bytes = 0;
    for n in 0..count {
        let (id, text) = &originals[n % originals.len()];
        let folder = dir.join(format!("g{:03}", n / 100));
        std::fs::create_dir_all(&folder).expect("a temporary folder");
        std::fs::write(folder.join(format!("{id}_{n}.toml")), text).expect("a case file");
        bytes += text.len() as u64;
    }
    Generated { dir, bytes }
}

/// Loads the generated files once; how long it took.
pub fn load(generated: &Generated, count: usize) -> Duration {
    let started = Instant::now();
    let cases = load_cases(&generated.dir).unwrap_or_else(|errors| {
        panic!(
            "generated cases do not load: {}",
            errors.first().map(|e| e.to_string()).unwrap_or_default()
        )
    });
    let elapsed = started.elapsed();
    assert_eq!(cases.len(), count);
    elapsed
}
