"""Paragraph labels from a page's ground truth (chromesift.data.labels), by hand."""

from __future__ import annotations

import numpy as np

from chromesift.data import labels

PARAGRAPHS = [
    "Home News Sport Weather",
    "Im Mittelalter war der St. Magdalener das Aushängeschild der Bozner Weine.",
    "Heute wächst er an den Hängen oberhalb der Stadt, wie seit Jahrhunderten.",
    "Newsletter abonnieren und nichts verpassen",
]


def test_full_text_labels_the_paragraphs_it_holds():
    truth = "\n".join(PARAGRAPHS[1:3])
    out = labels.align_full(PARAGRAPHS, truth)
    assert out.label.tolist() == [0.0, 1.0, 1.0, 0.0]
    assert out.kind == "full" and not out.excluded and out.coverage == 1.0


def test_soft_hyphens_in_a_ground_truth_do_not_cut_its_words():
    # some corpora keep the page's soft hyphens inside their ground-truth words; the paragraphs
    # have none (the walk leaves them out), so the labels must not depend on them
    truth = "\n".join(p.replace("Mittelalter", "Mit\u00adtel\u00adal\u00adter").replace("Hängen", "Hän\u00adgen")
                      for p in PARAGRAPHS[1:3])
    assert labels.tokens(truth) == labels.tokens("\n".join(PARAGRAPHS[1:3]))
    assert labels.align_full(PARAGRAPHS, truth).label.tolist() == [0.0, 1.0, 1.0, 0.0]
    out = labels.align_snippets(PARAGRAPHS, ["Mit\u00adtel\u00adal\u00adter war"], ["News\u00adletter abonnieren"])
    assert out.label[1] == 1.0 and out.label[3] == 0.0
    assert np.isnan(out.label[[0, 2]]).all()


def test_a_menu_of_cjk_words_is_no_content_though_the_article_holds_its_characters():
    article = ["金融庁は銀行に業務改善命令を出した。", "銀行のトップは辞任し、新しいサービスの開始は延期された。"]
    menu = ["トップ", "サービス", "ニュース"]
    paragraphs = menu + article
    truth = "\n".join(article)
    assert labels.cjk_share(labels.tokens(truth)) > 0.9 and labels.cjk_share(labels.tokens("only words")) == 0.0
    # three characters are an anchor anywhere in the article: the menu would be content
    assert labels.align_full(paragraphs, truth, n=labels.NGRAM).label.tolist()[:2] == [1.0, 1.0]
    out = labels.align_full(paragraphs, truth)
    assert out.label.tolist() == [0.0, 0.0, 0.0, 1.0, 1.0]
    # a short paragraph of the article amid the article is found across its neighbours
    paragraphs = menu[:1] + article[:1] + ["延期"] + article[1:]
    truth = "\n".join(paragraphs[1:])
    assert labels.align_full(paragraphs, truth).label.tolist() == [0.0, 1.0, 1.0, 1.0]
