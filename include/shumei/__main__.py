from shumei.cli import main

main()
