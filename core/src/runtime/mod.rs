//! What the model runs on: compute threads and the CPU's performance cores, the matrix products
//! over mapped weights (with the kernel family chosen once), the memory budget, cancellation
//! and the locks that serialize work.

pub(crate) mod budget;
pub(crate) mod control;
pub(crate) mod cpu;
pub(crate) mod dispatch;
pub(crate) mod matmul;
pub(crate) mod process;
pub(crate) mod threads;
