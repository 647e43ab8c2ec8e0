//! Files the daemon writes and reads safely, below every other crate: paths inside a root that may change under
//! us, resolved by the kernel from a descriptor ([`in_root`]), metadata replaced atomically ([`atomic`]), the
//! kernel's mount table ([`mount_table`]), extended attributes ([`xattr`]),
//! compressed archives told apart ([`decompress`]), the bytes a tree holds ([`tree_size`]), a user namespace's id map as files see it ([`id_shift`]).
//!
//! Invariant: knows no container, image or network concept; depends on no other Berth crate.

pub mod atomic;
pub mod decompress;
pub mod id_shift;
pub mod in_root;
pub mod mount_table;
pub mod tree_size;
pub mod xattr;
