//! The wall clock, read only at the edges (the pure cores take time as an argument).

pub use deliver::clock::now_us;
