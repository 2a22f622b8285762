//! The two sides of a 4-tuple. A [`FlowKey`] orders its endpoints (`lo` < `hi`) so that both
//! directions find the same entry; a [`Side`] names one of them and a [`Pair`] holds one value
//! per side, in place of a `from_lo` flag threaded through every signature.

use std::ops::{Index, IndexMut};

use crate::tcp::{Endpoint, FlowKey};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Side {
    #[default]
    Lo,
    Hi,
}

impl Side {
    /// The key of a segment from `src` to `dst`, and the side that sent it.
    pub fn of(src: Endpoint, dst: Endpoint) -> (FlowKey, Side) {
        let (key, src_is_lo) = FlowKey::new(src, dst);
        (key, Side::sending(src_is_lo))
    }

    /// The side that sent a segment whose source is (or is not) its key's `lo` side.
    pub fn sending(src_is_lo: bool) -> Side {
        if src_is_lo { Side::Lo } else { Side::Hi }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Lo => Side::Hi,
            Side::Hi => Side::Lo,
        }
    }

    /// The endpoint of this side.
    pub fn endpoint(self, key: &FlowKey) -> Endpoint {
        match self {
            Side::Lo => key.lo,
            Side::Hi => key.hi,
        }
    }
}

/// One value per side of a 4-tuple.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Pair<T>(pub [T; 2]);

impl<T> Index<Side> for Pair<T> {
    type Output = T;
    fn index(&self, side: Side) -> &T {
        &self.0[side as usize]
    }
}

impl<T> IndexMut<Side> for Pair<T> {
    fn index_mut(&mut self, side: Side) -> &mut T {
        &mut self.0[side as usize]
    }
}

/// A set of sides, a bit each (a connection's sides the capture holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Sides(u8);

impl Sides {
    pub const BOTH: Sides = Sides(3);

    pub fn has(self, side: Side) -> bool {
        self.0 & (1 << side as u8) != 0
    }

    pub fn add(&mut self, side: Side) {
        self.0 |= 1 << side as u8;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_name_opposite_sides_of_one_key() {
        let a = Endpoint {
            ip: "10.0.0.1".parse().unwrap(),
            port: 4000,
        };
        let b = Endpoint {
            ip: "10.0.0.2".parse().unwrap(),
            port: 110,
        };
        let (k1, s1) = Side::of(a, b);
        let (k2, s2) = Side::of(b, a);
        assert_eq!((k1, s1.other()), (k2, s2));
        assert_eq!(s1.endpoint(&k1), a);
        let mut pair = Pair([0, 0]);
        pair[s2] = 7;
        assert_eq!(pair[Side::Hi], 7);
    }
}
