// SPDX-License-Identifier: Apache-2.0 OR MIT

package rill

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
)

// TestDocComments keeps go doc readable: every exported name of the
// package has a doc comment, and a doc comment starts with the name it
// documents (types may begin "A Name" or "An Name").  In detail:
//
//   - funcs, types, and methods of exported types: a doc comment that
//     starts with the name;
//   - a const or var declared alone: the same;
//   - a group of consts or vars, const ( ... ): a doc comment for the
//     group, and on each exported name a comment of its own, above it
//     (starting with the name) or at the end of its line;
//   - exported fields of exported structs: a comment above the field
//     (starting with the name) or at the end of its line.
func TestDocComments(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			checked += checkDecl(t, fset, d)
		}
	}
	if checked < 50 { // the package has about 150: did the glob find it?
		t.Errorf("only %d exported names checked", checked)
	}
}

// docStarts reports whether doc, a doc comment, starts with name as a word
// (after "A " or "An " when article is true).
func docStarts(doc *ast.CommentGroup, name string, article bool) bool {
	if doc == nil {
		return false
	}
	text := strings.TrimSpace(doc.Text())
	if article {
		for _, a := range []string{"A ", "An "} {
			if strings.HasPrefix(text, a+name) {
				text = text[len(a):]
				break
			}
		}
	}
	rest, ok := strings.CutPrefix(text, name)
	if !ok {
		return false
	}
	for _, r := range rest {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_'
	}
	return true
}

// checkDecl checks the doc comments of one top-level declaration and
// returns how many exported names it has.
func checkDecl(t *testing.T, fset *token.FileSet, d ast.Decl) int {
	t.Helper()
	bad := func(pos token.Pos, format string, a ...any) {
		t.Helper()
		t.Errorf("%s: "+format, append([]any{fset.Position(pos)}, a...)...)
	}
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return 0
		}
		what := "func " + d.Name.Name
		if d.Recv != nil {
			recv := recvType(d.Recv.List[0].Type)
			if !ast.IsExported(recv) {
				return 0
			}
			what = "method " + recv + "." + d.Name.Name
		}
		if !docStarts(d.Doc, d.Name.Name, false) {
			bad(d.Pos(), "%s: no doc comment starting with %q", what, d.Name.Name)
		}
		return 1
	case *ast.GenDecl:
		n := 0
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if !s.Name.IsExported() {
					continue
				}
				n++
				doc := s.Doc
				if doc == nil && !d.Lparen.IsValid() {
					doc = d.Doc
				}
				if !docStarts(doc, s.Name.Name, true) {
					bad(s.Pos(), "type %s: no doc comment starting with %q", s.Name.Name, s.Name.Name)
				}
				n += checkFields(t, fset, s)
			case *ast.ValueSpec:
				var names []string
				for _, id := range s.Names {
					if id.IsExported() {
						names = append(names, id.Name)
					}
				}
				if len(names) == 0 {
					continue
				}
				n += len(names)
				if !d.Lparen.IsValid() { // alone: the declaration's comment
					doc := d.Doc
					if s.Doc != nil {
						doc = s.Doc
					}
					if !docStarts(doc, names[0], false) {
						bad(s.Pos(), "%s %s: no doc comment starting with %q", d.Tok, names[0], names[0])
					}
					continue
				}
				if d.Doc == nil {
					bad(s.Pos(), "%s %s: its group, %s ( ... ), has no doc comment", d.Tok, names[0], d.Tok)
				}
				switch {
				case s.Doc != nil && !docStarts(s.Doc, names[0], false):
					bad(s.Pos(), "%s %s: its doc comment does not start with %q", d.Tok, names[0], names[0])
				case s.Doc == nil && s.Comment == nil:
					bad(s.Pos(), "%s %s: no comment, above it or at the end of its line", d.Tok, names[0])
				}
			}
		}
		return n
	}
	return 0
}

// checkFields checks the exported fields of struct type s (and the
// methods of an interface), and returns how many it has.
func checkFields(t *testing.T, fset *token.FileSet, s *ast.TypeSpec) int {
	t.Helper()
	var list *ast.FieldList
	what := "field"
	switch st := s.Type.(type) {
	case *ast.StructType:
		list = st.Fields
	case *ast.InterfaceType:
		list, what = st.Methods, "method"
	default:
		return 0
	}
	n := 0
	for _, f := range list.List {
		if len(f.Names) == 0 || !f.Names[0].IsExported() {
			continue // embedded, or unexported
		}
		n += len(f.Names)
		name := f.Names[0].Name
		switch {
		case f.Doc != nil && !docStarts(f.Doc, name, false):
			t.Errorf("%s: %s %s.%s: its doc comment does not start with %q", fset.Position(f.Pos()),
				what, s.Name.Name, name, name)
		case f.Doc == nil && f.Comment == nil:
			t.Errorf("%s: %s %s.%s: no comment, above it or at the end of its line",
				fset.Position(f.Pos()), what, s.Name.Name, name)
		}
	}
	return n
}

// recvType is the name of a method's receiver type: T, *T, T[P] or *T[P].
func recvType(e ast.Expr) string {
	for {
		switch x := e.(type) {
		case *ast.StarExpr:
			e = x.X
		case *ast.IndexExpr:
			e = x.X
		case *ast.IndexListExpr:
			e = x.X
		case *ast.Ident:
			return x.Name
		default:
			return ""
		}
	}
}
