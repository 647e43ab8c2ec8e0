//! berth-shared
