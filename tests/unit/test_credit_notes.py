"""The VAT each refund takes back, with no database: orders and lines built in memory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from shop.money import Money
from shop.orders.credit_notes import RefundedLine, RefundFacts, credit_notes, net
from shop.orders.models import Order, OrderLine

START = datetime(2026, 12, 1, 10, tzinfo=UTC)


def line(id_: int, quantity: int, paid: int, rate: int = 20) -> OrderLine:
    """A line of `quantity` units paid `paid` in all (after any discount), VAT included."""
    return OrderLine(id=id_, kind="product", sku=f"SKU-{id_}", name=f"Serum {id_}",
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
