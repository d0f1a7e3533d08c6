"""Log colours: SGR codes become class names from a fixed set; text is never interpreted."""

from webbuilder_app.state.ansi import segments


def test_colours_and_bold_become_classes_and_reset_ends_them():
    assert segments("\x1b[1;31merror\x1b[0m TS2322: done") == [
        {"text": "error", "cls": "ansi-red ansi-bold"},
        {"text": " TS2322: done", "cls": ""},
    ]


def test_markup_in_a_log_stays_text():
    assert segments("<img src=x onerror=alert(1)>") == [{"text": "<img src=x onerror=alert(1)>", "cls": ""}]


def test_other_escape_sequences_are_dropped_and_extended_colours_skipped():
    assert segments("\x1b[2K\x1b[1G\x1b[38;5;196mred256\x1b[39m \x1b]0;title\x07\x1b[92mok") == [
        {"text": "red256 ", "cls": ""},
        {"text": "ok", "cls": "ansi-bright-green"},
    ]


def test_an_empty_line_is_one_empty_run():
    assert segments("") == [{"text": "", "cls": ""}]
