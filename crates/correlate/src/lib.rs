//! Correlation (being written).
