//! Cancellation: a flag shared between the caller and a running job, checked before each
//! token (and at the start of each stage of longer work). A child token stops with its parent
//! or on its own, for one part of a job that may be stopped without stopping the rest.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A shared flag that asks a running job to stop before its next token.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    own: Arc<AtomicBool>,
    /// The flags of the tokens this one is a child of: any of them stops it too.
    parents: Vec<Arc<AtomicBool>>,
}

impl CancelToken {
    pub fn new() -> Self {
        Self::default()
    }

    /// A token cancelled when this one is, or on its own (which leaves this one running).
    pub fn child(&self) -> CancelToken {
        let mut parents = self.parents.clone();
        parents.push(self.own.clone());
        CancelToken { own: Arc::default(), parents }
    }

    pub fn cancel(&self) {
        self.own.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.own.load(Ordering::SeqCst) || self.parents.iter().any(|p| p.load(Ordering::SeqCst))
    }

    /// True when both tokens are clones of one another.
    pub fn same_as(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.own, &other.own)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_token_is_shared_between_clones() {
        let a = CancelToken::new();
        let b = a.clone();
        assert!(!b.is_cancelled());
        a.cancel();
        assert!(b.is_cancelled());
        assert!(a.same_as(&b) && !a.same_as(&CancelToken::new()));
    }

    #[test]
    fn a_child_stops_with_its_parent_or_alone() {
        let parent = CancelToken::new();
        let child = parent.child();
        let grandchild = child.child();
        child.cancel();
        assert!(child.is_cancelled() && grandchild.is_cancelled() && !parent.is_cancelled());
        let other = parent.child();
        parent.cancel();
        assert!(other.is_cancelled());
        assert!(!other.same_as(&parent));
    }
}
