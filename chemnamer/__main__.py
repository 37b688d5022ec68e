from chemnamer.cli import main

raise SystemExit(main())
