//! Entry point of the console's WebAssembly module: everything happens in [`console::boot`].

fn main() {
    console::boot();
}
