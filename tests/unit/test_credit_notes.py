"""The VAT each refund takes back, with no database: orders and lines built in memory."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

import shop.models  # noqa: F401  (every mapper, for Order and OrderLine built on their own)
from shop.admin.reports.services import bookings
from shop.money import Money
from shop.orders.credit_notes import (
    RefundedLine,
    RefundFacts,
    as_known_at,
    as_sold,
    credit_notes,
    net,
)
from shop.orders.models import Order, OrderLine

START = datetime(2026, 12, 1, 10, tzinfo=UTC)


def line(id_: int, quantity: int, paid: int, rate: int = 20, kind: str = "product"
         ) -> OrderLine:
    """A line of `quantity` units paid `paid` in all (after any discount), VAT included."""
    return OrderLine(id=id_, kind=kind, sku=f"SKU-{id_}", name=f"Serum {id_}",
                     quantity=quantity, unit_price_amount=paid // quantity,
                     line_total_amount=paid, vat_rate=rate,
                     vat_amount=Money(paid, "GBP").vat_included(rate).amount)


def order(*lines: OrderLine, shipping: int = 0) -> Order:
    vat = sum(each.vat_amount for each in lines) + Money(shipping, "GBP").vat_included(20).amount
    return Order(id=1, number="GLW-10001", currency="GBP", lines=list(lines), vat_amount=vat,
                 total_amount=sum(each.line_total_amount for each in lines) + shipping,
                 amount_due=0, paid_at=START)


def lines_refund(day: int, *items: tuple[int, int, int], card_failed: bool = False,
                 voucher: int = 0) -> RefundFacts:
    amount = sum(item[2] for item in items)
    return RefundFacts(START + timedelta(days=day), amount - voucher, voucher,
                       card_failed=card_failed, lines=tuple(RefundedLine(*item) for item in items))


def amount_refund(day: int, amount: int, *, card_failed: bool = False) -> RefundFacts:
    return RefundFacts(START + timedelta(days=day), amount, 0, card_failed=card_failed)


def vats(notes) -> list[int]:
    return [note.vat.amount for note in notes]


def test_no_refunds_no_credit_notes():
    placed = order(line(1, 2, 2200))
    assert credit_notes(placed, []) == []
    assert net(placed, []) == (Money(2200, "GBP"), Money(367, "GBP"))


def test_a_line_refund_takes_back_the_vat_in_what_it_paid_back():
    placed = order(line(1, 2, 2200))
    [note] = credit_notes(placed, [lines_refund(0, (1, 1, 1100))])
    assert (note.credit_note, note.status, note.vat) == ("GLW-10001-R1", "refunded",
                                                          Money(183, "GBP"))
    assert [(each.sku, each.quantity, each.amount.amount) for each in note.lines] == \
        [("SKU-1", 1, 1100)]


def test_a_line_refunded_in_steps_gives_back_exactly_its_vat():
    """3 x 10.03 = 30.09 carries 5.02 VAT (5.015 rounded up); 10.03 carries 1.67 and 20.06
    carries 3.34, which would add up to 5.01."""
    placed = order(line(1, 3, 3009))
    notes = credit_notes(placed, [lines_refund(0, (1, 1, 1003)), lines_refund(1, (1, 2, 2006))])
    assert vats(notes) == [167, 335] and sum(vats(notes)) == placed.lines[0].vat_amount == 502
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=99_999),
       st.sampled_from([0, 5, 20]), st.data())
def test_any_steps_of_any_line_give_back_its_vat(quantity, paid, rate, data):
    placed = order(line(1, quantity, max(paid, quantity), rate))
    steps, left, spent = [], quantity, 0
    while left:
        units = data.draw(st.integers(min_value=1, max_value=left))
        left -= units
        # what the refund code pays back for them: cumulative, so the last step closes it
        upto = placed.lines[0].line_total_amount * (quantity - left) // quantity
        steps.append(lines_refund(len(steps), (1, units, upto - spent)))
        spent = upto
    notes = credit_notes(placed, steps)
    assert sum(vats(notes)) == placed.lines[0].vat_amount and min(vats(notes)) >= 0


def test_amount_refunds_follow_the_vat_mix_left_and_end_at_zero():
    placed = order(line(1, 1, 1200), line(2, 1, 5000, rate=0), shipping=499)
    notes = credit_notes(placed, [amount_refund(0, 1000), amount_refund(1, 2000),
                                  amount_refund(2, 3699)])
    # 6699 paid carrying 283 VAT (200 + 83 on delivery): 1000 of it carries 42
    assert vats(notes)[0] == 42
    assert sum(vats(notes)) == placed.vat_amount
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


def test_an_amount_refund_after_the_taxed_lines_went_takes_back_no_vat():
    """What is left is a 0% money voucher: refunding it must not take VAT below zero."""
    placed = order(line(1, 1, 1200), line(2, 1, 5000, rate=0))
    notes = credit_notes(placed, [lines_refund(0, (1, 1, 1200)), amount_refund(1, 5000)])
    assert vats(notes) == [200, 0]
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


def test_a_failed_card_refund_takes_nothing_back():
    placed = order(line(1, 2, 2200))
    notes = credit_notes(placed, [lines_refund(0, (1, 1, 1100), card_failed=True),
                                  amount_refund(1, 1100)])
    assert [note.status for note in notes] == ["card_refund_failed", "refunded"]
    assert [note.credit_note for note in notes] == ["GLW-10001-R1", "GLW-10001-R2"]
    assert vats(notes) == [0, 184] and notes[0].paid_back == Money(0, "GBP")  # 367 / 2
    assert net(placed, notes) == (Money(1100, "GBP"), Money(183, "GBP"))


def test_when_only_the_card_part_failed_the_voucher_part_counts():
    placed = order(line(1, 2, 2400))
    [note] = credit_notes(placed, [lines_refund(0, (1, 2, 2400), voucher=600,
                                                card_failed=True)])
    assert note.status == "card_refund_failed" and note.paid_back == Money(600, "GBP")
    assert note.vat == Money(100, "GBP")  # a quarter of the 400 VAT in 24.00
    assert net(placed, [note]) == (Money(1800, "GBP"), Money(300, "GBP"))


def test_refunding_all_that_is_left_takes_back_all_the_vat_left_at_any_rates():
    """A serum (20%) and a money voucher (0%): an amount refund takes VAT by the order's mix,
    so a voucher line refunded after it must still close the order at no VAT."""
    serum, voucher = line(1, 1, 1200), line(2, 1, 2500, rate=0)
    placed = order(serum, voucher)
    notes = credit_notes(placed, [amount_refund(0, 1200), lines_refund(1, (2, 1, 2500))])
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))
    assert sum(vats(notes)) == 200


# --- VAT by rate ---------------------------------------------------------------------------


def by_rate(note) -> list[tuple[int, int, int]]:
    return [(part.rate, part.net.amount, part.vat.amount) for part in note.vat_by_rate]


def left_by_rate(placed: Order, notes) -> dict[int, tuple[int, int]]:
    """What is still paid at each rate and the VAT in it, after the notes."""
    left = dict(as_sold(placed))
    for note in notes:
        for part in note.vat_by_rate:
            paid, vat = left[part.rate]
            left[part.rate] = (paid - part.net.amount - part.vat.amount, vat - part.vat.amount)
    return left


def assert_adds_up(notes) -> None:
    for note in notes:
        assert sum(part.net.amount + part.vat.amount for part in note.vat_by_rate) == \
            note.paid_back.amount
        assert sum(part.vat.amount for part in note.vat_by_rate) == note.vat.amount
        assert all(part.net.amount >= 0 and part.vat.amount >= 0 for part in note.vat_by_rate)


def serum_and_money_voucher(shipping: int = 0) -> Order:
    """A 12.00 serum (2.00 VAT at 20%) and a 50.00 money gift voucher (0%)."""
    return order(line(1, 1, 1200), line(2, 1, 5000, rate=0, kind="voucher"), shipping=shipping)


def test_an_amount_refund_is_shared_over_the_rates_by_what_is_still_paid_at_each():
    placed = serum_and_money_voucher()
    first, last = credit_notes(placed, [amount_refund(0, 1000), amount_refund(1, 5200)])
    # 1000 x 1200/6200 = 193.5 and 1000 x 5000/6200 = 806.5: the larger remainder (the
    # serum's) takes the penny; 194 at 20% carries 200 x 194/1200 = 32
    assert by_rate(first) == [(20, 162, 32), (0, 806, 0)] and first.vat == Money(32, "GBP")
    assert by_rate(last) == [(20, 838, 168), (0, 4194, 0)] and last.vat == Money(168, "GBP")
    assert_adds_up([first, last])
    assert left_by_rate(placed, [first, last]) == {20: (0, 0), 0: (0, 0)}
    assert net(placed, [first, last]) == (Money(0, "GBP"), Money(0, "GBP"))


def test_delivery_is_paid_at_the_standard_rate():
    placed = serum_and_money_voucher(shipping=499)  # 4.99 delivery carries 0.83 VAT
    assert as_sold(placed) == {20: (1699, 283), 0: (5000, 0)}
    [note] = credit_notes(placed, [amount_refund(0, 1699 + 5000)])
    assert by_rate(note) == [(20, 1416, 283), (0, 5000, 0)]


def test_a_line_refund_takes_each_line_at_its_rate():
    placed = order(line(1, 2, 2400), line(2, 1, 5000, rate=0, kind="voucher"))
    [note] = credit_notes(placed, [lines_refund(0, (1, 1, 1200), (2, 1, 5000))])
    assert by_rate(note) == [(20, 1000, 200), (0, 5000, 0)] and note.vat == Money(200, "GBP")
    assert left_by_rate(placed, [note]) == {20: (1200, 200), 0: (0, 0)}


def test_a_failed_card_part_of_a_line_refund_is_left_out_at_every_rate():
    placed = order(line(1, 1, 1200), line(2, 1, 1200, rate=0, kind="voucher"))
    [note] = credit_notes(placed, [lines_refund(0, (1, 1, 1200), (2, 1, 1200), voucher=600,
                                                card_failed=True)])
    assert note.paid_back == Money(600, "GBP")
    assert by_rate(note) == [(20, 250, 50), (0, 300, 0)]  # a quarter of each line
    assert_adds_up([note])


def test_a_line_refunded_after_an_amount_took_from_its_rate_never_goes_below_zero():
    """An amount refund took 3.00 of the serum's 12.00; refunding the serum's line (12.00)
    then pays back more than is still paid at 20%: the rest comes off the 0% voucher."""
    placed = order(line(1, 1, 1200), line(2, 1, 1200, rate=0, kind="voucher"))
    notes = credit_notes(placed, [amount_refund(0, 600), lines_refund(1, (1, 1, 1200)),
                                  amount_refund(2, 600)])
    assert [by_rate(note) for note in notes] == [
        [(20, 250, 50), (0, 300, 0)], [(20, 750, 150), (0, 300, 0)], [(0, 600, 0)]]
    assert_adds_up(notes)
    assert left_by_rate(placed, notes) == {20: (0, 0), 0: (0, 0)}


@given(st.lists(st.integers(min_value=1, max_value=30_000), min_size=1, max_size=4),
       st.lists(st.sampled_from([0, 5, 20]), min_size=4, max_size=4),
       st.integers(min_value=0, max_value=2_000), st.data())
def test_amount_refunds_at_any_rates_add_up_and_end_at_zero(paid, rates, shipping, data):
    placed = order(*(line(index + 1, 1, amount, rates[index])
                     for index, amount in enumerate(paid)), shipping=shipping)
    refunds, left = [], placed.total_amount
    for step in range(data.draw(st.integers(min_value=0, max_value=4))):
        amount = data.draw(st.integers(min_value=1, max_value=left))
        refunds.append(amount_refund(step, amount))
        left -= amount
        if not left:
            break
    if left:
        refunds.append(amount_refund(len(refunds), left))  # all that is left
    notes = credit_notes(placed, refunds)
    assert_adds_up(notes)
    assert all(paid >= 0 and vat >= 0 for paid, vat in left_by_rate(placed, notes[:-1]).values())
    assert set(left_by_rate(placed, notes).values()) == {(0, 0)}
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


def test_as_known_at_a_moment_a_card_refund_failed_later_still_counts():
    failed = RefundFacts(START, 1100, 0, card_failed=True,
                         card_failed_at=START + timedelta(days=2))
    at_once = RefundFacts(START + timedelta(days=1), 500, 0, card_failed=True)
    assert [fact.card_failed for fact in as_known_at([failed, at_once], START)] == [False]
    assert [fact.card_failed for fact in as_known_at(
        [failed, at_once], START + timedelta(days=1))] == [False, True]
    assert [fact.card_failed for fact in as_known_at(
        [failed, at_once], START + timedelta(days=2))] == [True, True]


def test_an_issued_credit_note_never_changes_when_an_earlier_card_refund_fails_later():
    """A serum (20%) and a money voucher (0%): the serum's line refunded on day 0, its card
    refund sent back by the bank on day 3; 6.00 on day 1, when only the voucher was still
    paid, so at 0%. That note stays as issued (worked out again it would take 0.50 of VAT);
    the last refund takes all that is left, the serum's VAT with it."""
    placed = order(line(1, 1, 1200), line(2, 1, 1200, rate=0, kind="voucher"))
    first = replace(lines_refund(0, (1, 1, 1200), card_failed=True),
                    card_failed_at=START + timedelta(days=3))
    second = amount_refund(1, 600)
    issued = credit_notes(placed, as_known_at([first, second], START + timedelta(days=2)))
    now = credit_notes(placed, [first, second])
    assert by_rate(now[1]) == by_rate(issued[1]) == [(0, 600, 0)]
    assert (now[0].status, vats(issued), vats(now)) == ("card_refund_failed", [200, 0], [0, 0])
    assert left_by_rate(placed, now) == {20: (1200, 200), 0: (600, 0)}
    notes = credit_notes(placed, [first, second, amount_refund(4, 1800)])
    assert by_rate(notes[2]) == [(20, 1000, 200), (0, 600, 0)]
    assert_adds_up(notes)
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


def test_a_line_refunded_again_after_its_card_refund_failed_gives_back_exactly_its_vat():
    """Staff refund the unit again (its amount worked out leaving the failed refund out), then
    the other unit: the two counting notes give back the line's 3.67 VAT, no more, no less."""
    placed = order(line(1, 2, 2200))
    failed = replace(lines_refund(0, (1, 1, 1100), card_failed=True),
                     card_failed_at=START + timedelta(hours=1))
    notes = credit_notes(placed, [failed, lines_refund(1, (1, 1, 1100)),
                                  lines_refund(2, (1, 1, 1100))])
    assert vats(notes) == [0, 183, 184] and sum(vats(notes)) == placed.lines[0].vat_amount
    assert net(placed, notes) == (Money(0, "GBP"), Money(0, "GBP"))


# --- the sales report's days ---------------------------------------------------------------


def test_a_failed_card_refund_is_booked_again_on_the_day_it_failed():
    """Two halves of 22.00 (3.67 VAT) refunded on days 0 and 1; the first one's card refund
    comes back on day 2. Days 0 and 1 keep what they booked; day 2 books the change: the
    failed 11.00 back with the 1.84 VAT its note took. The second note, issued when the
    first still counted, keeps its 1.83: an issued credit note never changes."""
    placed = order(line(1, 2, 2200))
    first = RefundFacts(START, 1100, 0, card_failed=True, card_failed_at=START + timedelta(2))
    second = amount_refund(1, 1100)
    booked = [(moment, change.refunds, change.vat, change.by_rate)
              for moment, change in bookings(placed, [first, second])]
    assert booked == [(START, 1100, 184, {20: (916, 184)}),
                      (START + timedelta(1), 1100, 183, {20: (917, 183)}),
                      (START + timedelta(2), -1100, -184, {20: (-916, -184)})]
    # the days add up to the credit notes as they are now
    assert vats(credit_notes(placed, [first, second])) == [0, 183] == [0, sum(
        change[2] for change in booked)]


def test_a_card_refund_that_failed_at_once_books_nothing():
    placed = order(line(1, 2, 2200))
    booked = [(change.refunds, change.vat)
              for _, change in bookings(placed, [amount_refund(0, 1100, card_failed=True)])]
    assert booked == [(0, 0)]
