//! Files the daemon writes and reads safely, below every other crate: paths inside a root that may change under
//! us, resolved by the kernel from a descriptor ([`in_root`]), metadata replaced atomically ([`atomic`]), the
//! kernel's mount table ([`mount_table`]), extended attributes ([`xattr`]),
//! compressed archives told apart ([`decompress`]).
//!
//! Invariant: knows no container, image or network concept; depends on no other Berth crate.

pub mod atomic;
pub mod decompress;
pub mod in_root;
pub mod mount_table;
pub mod xattr;
