"""The rules of reviews that need no database: the name shown and the average."""

from shop.reviews.services import author_name_for, average_rating


def test_the_name_shown_is_the_first_name_and_last_initial():
    assert author_name_for("Lara Croft") == "Lara C."
    assert author_name_for("  mary jane watson ") == "mary W."
    assert author_name_for("Cher") == "Cher"
    assert author_name_for("Ann (O'Neill)") == "Ann O."
    assert author_name_for("Ann --") == "Ann"
    assert author_name_for("") == author_name_for("   ") == "Verified buyer"
    assert len(author_name_for("A" * 200 + " Smith")) <= 60


def test_the_average_has_one_decimal_and_halves_round_up():
    assert average_rating(0, 0) is None
    assert average_rating(15, 4) == 3.8  # 3.75
    assert average_rating(17, 4) == 4.3  # 4.25 (not 4.2, as round() would make it)
    assert average_rating(14, 3) == 4.7
    assert average_rating(5, 1) == 5.0
