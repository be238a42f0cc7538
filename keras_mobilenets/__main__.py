from keras_mobilenets.cli import main

raise SystemExit(main())
