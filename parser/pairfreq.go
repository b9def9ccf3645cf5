package parser

import "sync"

// pairFreqBands is how often pairs of adjacent ASCII bytes occur in the
// messages of build logs, measured on the messages of the fixtures and the
// failure corpus (analyze/testdata, parser/testdata/failures; 199 KB):
// every pair that occurs at least 50 times per million bytes, in bands
// ("e " occurs at least 10,000 times per million). The pair engine
// (pairscan.go) anchors literals at rare pairs, and bytes that are rare
// alone often occur together ("Ex", "**", ": ").
var pairFreqBands = []struct {
	pairs      string
	perMillion int
}{
	{"este--stin", 10000},
	{"le: orreenonac 'co] arde, plngto", 5000},
	{"mped  iternnpsecpytiamomcle t ut10':neexatgict tcaion taea09ilet..ce [lounast_lisis sacumasean -choumehelnveis**_aopbid pe02',20ckroINxeyt/o calepFONFsmO][Isc12mo-1g e/icod atc i-pt-d_0 e'2614nt.1// s r/r/cpo f", 2000},
	{"ge eagncri.cn/noddem 1nvai h-e==s:thup_snl_d-09-k_mk6-Fulutt_gd:r 28avgdlls/nug-pandl'[2huibugnawa.0 p.p:/rttphtm/-ce_viadim:1e.lard[suselev'stu/s00 0ssabxao y:ry mkercwe o/m2d][tskwr/rkrun_ur2.{'hinie-s- Fwo::+ ue<Firolos-n1181datyuae]0-oc73ba1.aws_ubudeie:n.:2for:", 1000},
	{"sp0.l ot (ig3dTr9:47d.r-yp3.Up/pStm dinUks #d>4.98d]8]rasov_Expiob30Fishfrpr1 1:ok'}ebefptul1790 l'cjas.fs.g4324cvr./tze91fiiz1cid69faowcc dgr g-w/d0::3dbsl'trs nnfy 55=1Te_1-t1d_t'l-a50o/.e/hoav/42p m:0'64Re37[{_c}]*/3178ERTh60kiog[pns-dh wn41ho .04:tRRnm27buoor2/aapmm <.hrrt/y/'F'P:6AcP0_ob.vac2f4tA E06:T>[[T]<h[n-- 2 ds79>, *_ek Faaablip33Plr_ k217:> b0n]xi 20b56JoORRO[Ja5bSn:qusP_neh.j_ia9e3#1406aILNedu {16BaeNglui", 500},
	{"89auc1crnp. A2kB wo.Cold R T010]25 D_m 4t1.287put'hamit2082_44Dofe > v525erndEs'1522FAeot=AIsr18 b0_4e54dBdog/lst3*.1b77[Ef1su5fR]bed0rg'eb je70c4# :0/gb9'/-s4] u95tr3-8:_l C S48n3 3 50588REsk2] \"'n/j35465999URgspprmv1},++/b:aLU +:4eBwi) -fcbe4y_'r36k.Clo-2c7172Biakwh.54 4dCh__e8kaovy.-i2b67ly' /e:rb2c/cdd'd7ej2-2a668bhl\",-20a1,5c9db7h=+r036be7s) U1-75769a9cErbbc5lfmlnS-W.*0/0c_AnC-l237T9IB G7IGIITiW7c6r8tEtw-4-b4fcfewf0h-ltr3(o0e1319397c8so_pm6586d/61d2dfeql/r)/2/u_pd-k8t.tkB/Eny--A.m2,94Meay\"*.4Un_T_kfunytMuc'].w['gor1y3.t2'49628 a0t:1~93No_2g.p:~2", 200},
	{"-6/C3 _rb5myswu_'[1e346 6880r'ya'p.37,8f${-:/v3238:-STeeivy\"''/i0f8dRua/cpeEtlxt./b1c0hdi.m6uo N2/3b6d96cnd1i_v ! 'm/l4j51Gr],h'h_l-nkv2.o/w6.CIMad6jokn q\":'2.r8aEN_vbrm.oi P-9-r.s/n5d8cARR!a-cidAe5f f8n'umyh'f0%7.82AAGiSaa s,w- j\" (3-3/f4c979e_qcye,eggujurv 8 M(1-j-o.9/$/43/ATIRa2e=l:sfwr A G _1'6]9.TUTabpdSey 6 |(R-5.a0,29\\\"]}c dng3gai'l.mcnGp}xp|  B'1(2-m8.9 92:\"AlBuTEiaiep=.n4/7 CAES[]]'e}hws(y'\n(\"h455 ALASLESu_Vd,p'rlux /%\n* ,\".d/31/2:5885=*L_T__3a1csf.ffgni/j-k/r(v-x-", 100},
	{"-u3:6_748_:oE_Senrofojx8xc I):.i/62f8)ANPrVIb_dvg'ggi-ifm'm)t)u-xm}}&u'g-v0r0s1]8'=h?oCaDED_I_RNVeWAbhbjbsftgxkdlpr0x0'A/14a636G= LiNVP PRRTToUAUsV2_7_Ea>b3eLghlvo:syy, : =% 'd'j-C.u577dEDID_4_fafdle2o'(m*s0T3a83I.InLDN-NNZ'[ \\n_0_9_D_P_bd5d9e\"eTf2g_koufy*{h}/ V)..F._.b3_4b6,8e9fD GeITMBR:_Ba4aec9f5i jdjrl,pdt,tmu.v.yn $ \\\"s$('i.l2>2D3D6:6f7eLIOMPSRMS T0TATKb-c-dVdkfcgfnRoxrxsbsdsnxy~~ 7'.(d/M1_5%5-5:5a7a8,:cBUE ECMPPASETOTSUI[1]:a8bycmflg:h.h:n\"p-tdz  O'a(e-x3)4:4_53:5=$=0B]CMCrDIFoHTK_NGNIOLOPPTR=R_T1TPTTUT_6_Ia'a.a3boc8d4d=h6j/rfwg{t}?", 50},
}

// pairFreqTables are pairFreq for every pair and its sums by the second
// byte's high nibble, built on first use (when rules compile with AVX2).
type pairFreqTables struct {
	freq [1 << 16]uint16 // indexed by c<<8 | d
	rows [256][16]int32  // rows[c][h]: pairFreq(c, d) summed over the d with high nibble h (pairBucket.cost)
}

var pairFreqs = sync.OnceValue(func() *pairFreqTables {
	t := new(pairFreqTables)
	for c := range 256 {
		for d := range 256 {
			t.freq[c<<8|d] = uint16(min(byteCost(byte(c))*byteCost(byte(d))/100, 25))
		}
	}
	for _, band := range pairFreqBands {
		for i := 0; i+1 < len(band.pairs); i += 2 {
			t.freq[int(band.pairs[i])<<8|int(band.pairs[i+1])] = uint16(band.perMillion)
		}
	}
	for c := range 256 {
		for d := range 256 {
			t.rows[c][d>>4] += int32(t.freq[c<<8|d])
		}
	}
	return t
})

// pairFreq estimates how often the pair c, d occurs, per million bytes: a
// measured band, or for a pair not in pairFreqBands the estimate from its
// bytes' frequencies (byteCost) as if independent, at most 25.
func pairFreq(c, d byte) int { return int(pairFreqs().freq[int(c)<<8|int(d)]) }
