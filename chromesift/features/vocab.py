"""Heuristic vocabularies of the feature stage, as named data.

Everything a feature matches by word lives here, so adding a language or a
chrome word is a data change, not a code change.
"""

from __future__ import annotations

#: class/id words (and German forms) -> the feature they count toward.
ATTR_WORDS: dict[str, tuple[str, ...]] = {
    "nav": ("nav", "navigation", "navbar", "menu", "menue", "topbar", "toolbar", "skip", "pagination", "pager"),
    "footer": ("footer", "foot", "bottom", "copyright", "legal", "impressum", "fuss", "fusszeile"),
    "header": ("header", "masthead", "banner", "topnav", "kopf", "logo", "brand", "branding"),
    "comment": ("comment", "comments", "kommentar", "kommentare", "disqus", "reply", "respond", "discussion", "forum"),
    "share": ("share", "sharing", "social", "sharebar", "teilen", "facebook", "twitter", "whatsapp", "linkedin", "print", "mail", "email"),
    "related": ("related", "recommended", "more", "further", "weitere", "empfehlung", "mehr", "trending", "popular", "most", "read", "outbrain", "taboola", "teaser", "teasers", "promo", "list"),
    "ad": ("ad", "ads", "adv", "advert", "advertisement", "anzeige", "werbung", "sponsor", "sponsored", "banner", "dfp", "gpt", "commercial", "affiliate"),
    "sidebar": ("sidebar", "side", "aside", "rail", "widget", "widgets", "column", "col", "seitenleiste", "box"),
    "cookie": ("cookie", "cookies", "consent", "gdpr", "privacy", "datenschutz", "cmp", "notice", "dialog", "modal", "popup", "overlay"),
    "subscribe": ("newsletter", "subscribe", "subscription", "signup", "register", "login", "abo", "abonnieren", "anmelden", "paywall", "registrieren", "form"),
    "breadcrumb": ("breadcrumb", "breadcrumbs", "crumb", "crumbs", "path"),
    "job": ("job", "jobs", "career", "careers", "karriere", "stellen", "stellenangebote", "stellenmarkt"),
    "meta": ("meta", "byline", "author", "date", "time", "dateline", "info", "tags", "tag", "category", "kategorie", "autor", "datum", "published", "credit", "source"),
    "caption": ("caption", "figcaption", "credit", "photo", "image", "img", "bild", "bildunterschrift", "gallery", "media", "video", "thumb", "thumbnail"),
    "content": ("article", "content", "body", "main", "post", "entry", "text", "story", "artikel", "inhalt", "richtext", "prose", "blog", "news", "single", "detail", "page", "copy", "paragraph"),
    "title": ("title", "headline", "heading", "h1", "titel", "ueberschrift", "subtitle", "kicker", "lead", "intro", "teaser"),
    "hidden": ("hidden", "hide", "sr", "only", "visually", "screen", "reader", "invisible", "collapse", "offscreen"),
}

#: Text phrases typical of chrome lines (lowercase; matched as substrings).
CHROME_PHRASES: tuple[str, ...] = (
    # en
    "subscribe", "newsletter", "sign up", "sign in", "log in", "login", "register", "cookie",
    "privacy", "terms of", "all rights reserved", "copyright", "©", "share this", "share on",
    "follow us", "read more", "related", "advertisement", "sponsored", "comments", "comment",
    "posted by", "click here", "more stories", "recommended", "trending", "back to top",
    "skip to", "contact us", "about us", "terms and conditions", "you may also like", "loading",
    "jobs", "apply now", "(m/f/d)", "search", "menu", "home",
    # de
    "abonnieren", "anmelden", "registrieren", "datenschutz", "impressum", "kommentar",
    "weiterlesen", "mehr zum thema", "teilen", "werbung", "anzeige", "(m/w/d)", "newsletter",
    "kostenlos", "jetzt", "stellenangebot", "alle rechte vorbehalten", "nutzungsbedingungen",
    "zum artikel", "mehr lesen", "per e-mail", "per email", "per mail", "bei google",
    "suche", "startseite", "kontakt",
    # fr, es, it, pt, nl, pl
    "s'abonner", "connexion", "publicité", "suscríbete", "iniciar sesión", "publicidad",
    "iscriviti", "pubblicità", "assine", "publicidade", "inschrijven", "reclame", "zaloguj",
    "reklama",
    # zh
    "版权", "责任编辑", "相关", "推荐", "登录", "注册", "分享", "评论", "广告", "免责声明",
    "关注", "扫码", "二维码", "订阅", "点击", "上一篇", "下一篇", "返回",
)

#: Headings that open a comment section (lowercase; a whole short paragraph, an optional
#: count before or after): everything after one is likely reader comments.
COMMENT_HEADS: tuple[str, ...] = (
    "comments", "comment", "responses", "replies", "reader comments", "discussion",
    "leave a reply", "leave a comment", "post a comment", "add a comment", "add comment",
    "write a comment", "join the discussion", "show comments", "view comments",
    "comments are closed", "what do you think?",
    "kommentare", "kommentar", "leserkommentare", "diskussion", "kommentar schreiben",
    "kommentar verfassen", "jetzt kommentieren", "kommentieren",
    "commentaires", "comentarios", "commenti", "comentários", "reacties", "komentarze",
    "评论", "网友评论", "发表评论", "我要评论", "留言", "相关评论",
)
#: Words of the action lines under each comment (a whole short paragraph).
COMMENT_ACTIONS: tuple[str, ...] = (
    "reply", "report", "report abuse", "flag", "flag as inappropriate", "permalink", "quote",
    "like", "recommend", "share", "edit", "delete", "link", "log in to reply",
    "antworten", "melden", "zitieren", "回复", "举报", "顶", "踩",
)

#: Short stopword lists (most frequent function words) per language.
STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the of and to a in is that for it as was with be by on not he this are or his from at "
        "which but have an they you were her she there been one all we their has would when "
        "who will more no if out so said what up its about than into them can only other new "
        "some could time these two may then do first any my now such like our over man me even "
        "most made after also did many before must through back years where much your way well "
        "down should because each just those people how too little state good very make world "
        "still own see men work long get here between both life being under never day same "
        "another know while last might us great old year off come since against go came right "
        "used take three i had".split()
    ),
    "de": frozenset(
        "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch "
        "es an werden aus er hat dass sie nach wird bei einer um am sind noch wie einem über "
        "einen so zum war haben nur oder aber vor zur bis mehr durch man sein wurde sei ich "
        "wir ihr ihre kann gegen vom schon wenn habe seine ihren dann unter wir soll ich "
        "eines diese dieser wieder keine seiner worden will zwischen immer was sagte".split()
    ),
    "fr": frozenset(
        "de la le et les des en un du une que est pour qui dans a par plus pas au sur ne se "
        "ce il sont les ou avec son été elle aux nous mais comme sa ont ses leur cette fait "
        "y être tout on bien sans peut deux".split()
    ),
    "es": frozenset(
        "de la que el en y a los del se las por un para con no una su al es lo como más pero "
        "sus le ya o fue este ha sí porque esta son entre cuando muy sin sobre ser tiene también "
        "me hasta hay donde han quien desde todo nos durante todos uno les ni contra otros".split()
    ),
    "it": frozenset(
        "di e il la che in a per un è del non una le si con i da sono al della dei come lo "
        "anche più ma nel alla gli ha delle se ci ne questo nella loro essere dal sua suo "
        "stato tra quando fra".split()
    ),
    "pt": frozenset(
        "de a o que e do da em um para é com não uma os no se na por mais as dos como mas foi "
        "ao ele das tem à seu sua ou ser quando muito há nos já está também só pelo pela até "
        "isso ela entre era depois sem mesmo aos ter seus".split()
    ),
    "nl": frozenset(
        "de en van ik te dat die in een hij het niet zijn is was op aan met als voor had er "
        "maar om hem dan zou of wat mijn men dit zo door over ze zich bij ook tot je mij uit "
        "der daar haar naar heb hoe heeft hebben deze u want nog zal".split()
    ),
    "pl": frozenset(
        "i w na z do że się nie to jest o jak co a ale od po za tak jego przez dla być już "
        "tylko jej może czy go są ich był tym pod oraz ten także który która które tej został "
        "przy było".split()
    ),
    "ru": frozenset(
        "и в не на я что тот быть с он а весь это как она по но они к у ты из мы за вы так же "
        "от сказать этот который мочь человек о один еще бы такой только себя свое какой когда "
        "уже для вот кто да говорить год знать мой до или если время рука нет самый ни стать "
        "большой даже другой наш свой ну под где дело есть сам раз чтобы два там чем глаз жизнь "
        "первый день тут во ничто потом очень со хотеть ли при голова надо без видеть идти".split()
    ),
}

#: Chinese function characters: the character-level stop "words" of zh text.
ZH_STOPCHARS = frozenset("的了是在和有我不这他就人都一也要上们中来到说大为个地以着对时而于与其之被但将并等从")

#: All stopwords of all languages (for pages whose language is unknown).
ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

#: Tags given their own code in the categorical tag feature; the rest share one code.
TAG_ONEHOT: tuple[str, ...] = (
    "p", "div", "li", "td", "th", "h1", "h2", "h3", "h4", "h5", "h6", "a", "span", "blockquote",
    "pre", "dd", "dt", "figcaption", "caption", "section", "article", "header", "footer",
    "nav", "aside", "form", "body", "center", "font", "b", "strong", "tr", "address", "label",
)
