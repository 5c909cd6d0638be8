"""HTML reports and the notebooks' sections: :mod:`.html` (export, the index), one module per notebook that holds
logic."""
