"""The branch's books in chat (issue 18): the monthly meeting's record, transfers, admission
candidates, the year-end review; ``actions`` the buttons, ``screens`` what they show and ask (its
``router``), ``words`` the shared wording, ``messages`` what the scheduler tells the secretary.

Nothing is imported here: the records' card and the meetings' card show buttons of this feature
(``actions``), while its screens use theirs."""
