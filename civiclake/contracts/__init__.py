"""Source contracts: each source table declared once, in the module of its family
(``governance``, ``city``, ``resources``, ``party``, ``services``, ``open311``; the
contract of ``governance.cases`` is ``governance.CASES``). ``base`` says what a contract
holds; ``catalog`` finds one by its silver table name and gives silver's columns and
Arrow schema."""
