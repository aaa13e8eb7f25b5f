

def test_fewer_gc_pauses_restores_the_threshold_after_the_last_overlapping_user():
    import gc
    import threading

    from synthfoundry.teachers.base import fewer_gc_pauses

    default = gc.get_threshold()
    first_in, second_done = threading.Event(), threading.Event()

    def first():
        with fewer_gc_pauses():
            first_in.set()
            second_done.wait(5)
            assert gc.get_threshold()[0] == 50_000  # still raised after the other user left

    thread = threading.Thread(target=first)
    thread.start()
    first_in.wait(5)
    with fewer_gc_pauses():
        assert gc.get_threshold()[0] == 50_000
    second_done.set()
    thread.join(5)
    assert gc.get_threshold() == default
