package signatures

// The part of Structured Field Values (RFC 8941) that RFC 9421's headers use:
// dictionaries of items and inner lists with parameters, parsed strictly and serialised
// canonically (the signature base holds the re-serialised @signature-params).

import (
	"encoding/base64"
	"strconv"
	"strings"
)

type sfToken string

// sfDecimal is a decimal in thousandths.
type sfDecimal int64

type sfParam struct {
	key   string
	value any // int64, string, sfToken, []byte, bool, sfDecimal
}

type sfItem struct {
	value  any
	params []sfParam
}

type sfMember struct {
	key    string
	item   *sfItem
	list   []sfItem
	isList bool
	params []sfParam // the inner list's
}

type sfParser struct {
	text string
	pos  int
}

func sfBad(why string) error { return malformed("structured field: %s", why) }

func (p *sfParser) peek() byte {
	if p.pos < len(p.text) {
		return p.text[p.pos]
	}
	return 0
}

func (p *sfParser) eat(c byte) bool {
	if p.peek() == c && c != 0 {
		p.pos++
		return true
	}
	return false
}

func (p *sfParser) skip(chars string) {
	for p.pos < len(p.text) && strings.IndexByte(chars, p.text[p.pos]) >= 0 {
		p.pos++
	}
}

func (p *sfParser) takeWhile(keep func(byte) bool) string {
	start := p.pos
	for p.pos < len(p.text) && keep(p.text[p.pos]) {
		p.pos++
	}
	return p.text[start:p.pos]
}

func isLowerKeyStart(c byte) bool { return c >= 'a' && c <= 'z' || c == '*' }

func isKeyChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("_-.*", c) >= 0
}

func isTokenChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~:/", c) >= 0
}

func (p *sfParser) key() (string, error) {
	if !isLowerKeyStart(p.peek()) {
		return "", sfBad("a key must start with a-z or *")
	}
	return p.takeWhile(isKeyChar), nil
}

func (p *sfParser) parameters() ([]sfParam, error) {
	var params []sfParam
	for p.eat(';') {
		p.skip(" ")
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var value any = true
		if p.eat('=') {
			if value, err = p.bare(); err != nil {
				return nil, err
			}
		}
		for _, existing := range params {
			if existing.key == key {
				return nil, sfBad("duplicate parameter " + key)
			}
		}
		params = append(params, sfParam{key, value})
	}
	return params, nil
}

func (p *sfParser) item() (sfItem, error) {
	value, err := p.bare()
	if err != nil {
		return sfItem{}, err
	}
	params, err := p.parameters()
	return sfItem{value, params}, err
}

func (p *sfParser) bare() (any, error) {
	c := p.peek()
	switch {
	case c == '-' || c >= '0' && c <= '9':
		return p.number()
	case c == '"':
		return p.string()
	case c == ':':
		end := strings.IndexByte(p.text[p.pos+1:], ':')
		if end < 0 {
			return nil, sfBad("unterminated byte sequence")
		}
		encoded := p.text[p.pos+1 : p.pos+1+end]
		p.pos += end + 2
		decoded, err := base64.StdEncoding.Strict().DecodeString(encoded)
		if err != nil {
			return nil, sfBad("byte sequence is not base64")
		}
		return decoded, nil
	case c == '?':
		if p.pos+1 >= len(p.text) || (p.text[p.pos+1] != '0' && p.text[p.pos+1] != '1') {
			return nil, sfBad("bad boolean")
		}
		value := p.text[p.pos+1] == '1'
		p.pos += 2
		return value, nil
	case c == '*' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return sfToken(p.takeWhile(isTokenChar)), nil
	}
	return nil, sfBad("not an item")
}

func (p *sfParser) number() (any, error) {
	negative := p.eat('-')
	integer := p.takeWhile(func(c byte) bool { return c >= '0' && c <= '9' })
	if integer == "" {
		return nil, sfBad("a number needs digits")
	}
	sign := int64(1)
	if negative {
		sign = -1
	}
	if !p.eat('.') {
		if len(integer) > 15 {
			return nil, sfBad("integer too long")
		}
		n, _ := strconv.ParseInt(integer, 10, 64)
		return sign * n, nil
	}
	fraction := p.takeWhile(func(c byte) bool { return c >= '0' && c <= '9' })
	if len(integer) > 12 || fraction == "" || len(fraction) > 3 {
		return nil, sfBad("bad decimal")
	}
	n, _ := strconv.ParseInt(integer+fraction+strings.Repeat("0", 3-len(fraction)), 10, 64)
	return sfDecimal(sign * n), nil
}

func (p *sfParser) string() (any, error) {
	p.pos++
	var out strings.Builder
	for {
		if p.pos >= len(p.text) {
			return nil, sfBad("unterminated string")
		}
		c := p.text[p.pos]
		p.pos++
		switch {
		case c == '"':
			return out.String(), nil
		case c == '\\':
			if p.pos >= len(p.text) || (p.text[p.pos] != '"' && p.text[p.pos] != '\\') {
				return nil, sfBad("bad escape")
			}
			out.WriteByte(p.text[p.pos])
			p.pos++
		case c >= 0x20 && c <= 0x7e:
			out.WriteByte(c)
		default:
			return nil, sfBad("bad character in string")
		}
	}
}

func (p *sfParser) member(key string) (sfMember, error) {
	if !p.eat('(') {
		item, err := p.item()
		return sfMember{key: key, item: &item}, err
	}
	m := sfMember{key: key, isList: true}
	for {
		p.skip(" ")
		if p.eat(')') {
			params, err := p.parameters()
			m.params = params
			return m, err
		}
		item, err := p.item()
		if err != nil {
			return m, err
		}
		m.list = append(m.list, item)
		if c := p.peek(); c != ' ' && c != ')' {
			return m, sfBad("bad inner list")
		}
	}
}

// parseDictionary reads a dictionary's members in order; a duplicate key is refused.
func parseDictionary(text string) ([]sfMember, error) {
	if len(text) > 16*1024 {
		return nil, sfBad("too long")
	}
	p := &sfParser{text: strings.Trim(text, " ")}
	var members []sfMember
	if p.peek() == 0 {
		return members, nil
	}
	for {
		key, err := p.key()
		if err != nil {
			return nil, err
		}
		var m sfMember
		if p.eat('=') {
			if m, err = p.member(key); err != nil {
				return nil, err
			}
		} else {
			params, err := p.parameters()
			if err != nil {
				return nil, err
			}
			m = sfMember{key: key, item: &sfItem{true, params}}
		}
		for _, existing := range members {
			if existing.key == key {
				return nil, sfBad("duplicate key " + key)
			}
		}
		members = append(members, m)
		p.skip(" \t")
		if p.peek() == 0 {
			return members, nil
		}
		if !p.eat(',') {
			return nil, sfBad("expected a comma")
		}
		p.skip(" \t")
		if p.peek() == 0 {
			return nil, sfBad("trailing comma")
		}
	}
}

func serializeInnerList(items []sfItem, params []sfParam) string {
	var out strings.Builder
	out.WriteByte('(')
	for i, item := range items {
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString(serializeBare(item.value))
		out.WriteString(serializeParams(item.params))
	}
	out.WriteByte(')')
	out.WriteString(serializeParams(params))
	return out.String()
}

func serializeParams(params []sfParam) string {
	var out strings.Builder
	for _, p := range params {
		out.WriteString(";" + p.key)
		if p.value != true {
			out.WriteString("=" + serializeBare(p.value))
		}
	}
	return out.String()
}

func serializeBare(value any) string {
	switch v := value.(type) {
	case bool:
		if v {
			return "?1"
		}
		return "?0"
	case int64:
		return strconv.FormatInt(v, 10)
	case sfDecimal:
		sign, abs := "", int64(v)
		if abs < 0 {
			sign, abs = "-", -abs
		}
		fraction := strings.TrimRight(strconv.FormatInt(1000+abs%1000, 10)[1:], "0")
		if fraction == "" {
			fraction = "0"
		}
		return sign + strconv.FormatInt(abs/1000, 10) + "." + fraction
	case string:
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
	case sfToken:
		return string(v)
	case []byte:
		return ":" + base64.StdEncoding.EncodeToString(v) + ":"
	}
	return ""
}
