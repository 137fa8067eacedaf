//! Entry point of the widget's WebAssembly module: everything happens in [`widget::boot`].

fn main() {
    widget::boot();
}
