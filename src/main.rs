//! The `s3fix` command-line entry point.

// mimalloc: `simulate` allocates many short-lived values per case; the system allocator was a
// fifth of its time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let code = s3fix::cli::run();
    std::process::exit(code.code());
}
