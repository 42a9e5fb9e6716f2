fn main() {
    std::process::exit(cortado::cli::main());
}
