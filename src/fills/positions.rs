//! Positions and realised P&L computed from fills.
