//! The store's snapshots and indexes, without a signal around them.

use super::*;

fn entry(py: Python<'_>, receiver: usize, sender: ObjId) -> Entry {
    Entry {
        key: ReceiverKey::Target(ObjId::Single(receiver)),
        sender,
        receiver: receiver.into_pyobject(py).unwrap().into_any().unbind(),
        sender_ref: None,
        is_async: false,
    }
}

fn receivers(py: Python<'_>, snapshot: &Snapshot) -> Vec<usize> {
    snapshot.iter().map(|t| t.receiver.extract(py).unwrap()).collect()
}

#[test]
fn snapshots_merge_any_sender_and_sender_receivers_in_connection_order() {
    Python::initialize();
    Python::attach(|py| {
        let mut store = ReceiverStore::new();
        let mut released = Released::default();
        let any = ObjId::of_none();
        let model = ObjId::Single(7);
        store.push(entry(py, 1, any), &mut released);
        store.push(entry(py, 2, model), &mut released);
        store.push(entry(py, 3, any), &mut released);
        store.push(entry(py, 4, ObjId::Single(8)), &mut released);
        assert_eq!(receivers(py, &store.snapshot(py, Some(model))), [1, 2, 3]);
        assert_eq!(receivers(py, &store.snapshot(py, None)), [1, 3]);
        assert_eq!(receivers(py, &store.snapshot(py, Some(ObjId::Single(9)))), [1, 3]);
        // A change for one sender outdates only that sender's snapshot.
        let slot = store.find_target(ObjId::Single(2), model).unwrap();
        store.remove(slot, &mut released);
        assert_eq!(receivers(py, &store.snapshot(py, Some(model))), [1, 3]);
        assert_eq!(store.per_sender.len(), 1);
    });
}

#[test]
fn removal_leaves_order_and_index_intact_across_compaction() {
    Python::initialize();
    Python::attach(|py| {
        let mut store = ReceiverStore::new();
        let mut released = Released::default();
        let any = ObjId::of_none();
        for r in 0..100 {
            store.push(entry(py, r, any), &mut released);
        }
        for r in (0..100).filter(|r| r % 3 != 0) {
            let slot = store.find_target(ObjId::Single(r), any).unwrap();
            store.remove(slot, &mut released);
            store.compact_if_sparse();
        }
        assert!(store.slots.len() < 100, "holes were compacted away");
        let expected: Vec<usize> = (0..100).filter(|r| r % 3 == 0).collect();
        assert_eq!(receivers(py, &store.snapshot(py, None)), expected);
        for r in &expected {
            let slot = store.find_target(ObjId::Single(*r), any).unwrap();
            assert_eq!(store.entry_at(slot).unwrap().receiver.extract::<usize>(py).unwrap(), *r);
        }
        assert_eq!(store.len(), expected.len());
    });
}
