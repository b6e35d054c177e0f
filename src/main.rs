//! The `s3fix` command-line entry point.

fn main() {
    let code = s3fix::cli::run();
    std::process::exit(code.code());
}
