from pruning_lab.tree import leaves, reference, references


def test_leaves_name_every_leaf_by_its_dotted_key_lists_by_index():
    tree = {"a": {"b": 1, "c": [2, {"d": 3}]}, "e": []}
    assert list(leaves(tree)) == [("a.b", 1), ("a.c.0", 2), ("a.c.1.d", 3), ("e", [])]


def test_a_list_of_plain_values_is_one_leaf_unless_asked_to_descend():
    tree = {"hidden": [512, 256], "phases": [{"kind": "train", "lr": 0.1}]}
    assert dict(leaves(tree, into_lists=False)) == {"hidden": [512, 256], "phases.0.kind": "train",
                                                    "phases.0.lr": 0.1}


def test_references_are_the_keys_of_plain_interpolations_only():
    assert references("${treatment.lr} and ${seed}") == ["treatment.lr", "seed"]
    assert references("${now:%H}") == [] and references(3) == []
    assert reference("${treatment.lr}") == "treatment.lr"
    assert reference("x${treatment.lr}") is None
