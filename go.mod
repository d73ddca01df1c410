module github.com/mocogo/mocogo

go 1.26
