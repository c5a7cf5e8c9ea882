import json,sys
d=json.load(open(sys.argv[1]))
st=d['started']
ws=[e for e in d['trace'] if e[0]=='w']
ps=[e for e in d['trace'] if e[0]!='w']
busy=sum(e[4]-e[1] for e in ws)
paused=0; last=None
for e in ps:
    if e[0]=='p': last=e[1]
    elif last is not None: paused+=e[1]-last; last=None
first=ws[0][1]; end=ws[-1][4]
print('writes %d, first start %.0f ms, last end %.0f ms; write busy %.0f ms (%.0f%% of first..last), stream paused %.0f ms; mean batch %.0f'%(len(ws),first-st,end-st,busy,100*busy/(end-first),paused,sum(e[5] for e in ws)/len(ws)))
if len(sys.argv)>2:
    for e in d['trace']:
        if e[0]=='w': print('W %7.1f app %6.1f pub %5.1f n=%d'%(e[1]-st,e[2]-e[1],e[3]-e[2],e[5]))
        else: print(e[0],'%7.1f'%(e[1]-st))
