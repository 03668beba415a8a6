<?xml version="1.0" encoding="UTF-8"?>
<tileset version="1.8" name="meadow" tilewidth="16" tileheight="16" spacing="0" margin="0" tilecount="18" columns="5">
 <image source="meadow.png" width="80" height="64"/>
 <wangsets>
  <wangset name="meadow" type="corner" tile="15">
   <wangcolor name="grass" color="#3e8948" tile="0" probability="1"/>
   <wangcolor name="dirt" color="#8b9bb4" tile="15" probability="1"/>
   <wangtile tileid="0" wangid="0,1,0,1,0,1,0,1"/>
   <wangtile tileid="1" wangid="0,2,0,1,0,1,0,1"/>
   <wangtile tileid="2" wangid="0,1,0,2,0,1,0,1"/>
   <wangtile tileid="3" wangid="0,2,0,2,0,1,0,1"/>
   <wangtile tileid="4" wangid="0,1,0,1,0,2,0,1"/>
   <wangtile tileid="5" wangid="0,2,0,1,0,2,0,1"/>
   <wangtile tileid="6" wangid="0,1,0,2,0,2,0,1"/>
   <wangtile tileid="7" wangid="0,2,0,2,0,2,0,1"/>
   <wangtile tileid="8" wangid="0,1,0,1,0,1,0,2"/>
   <wangtile tileid="9" wangid="0,2,0,1,0,1,0,2"/>
   <wangtile tileid="10" wangid="0,1,0,2,0,1,0,2"/>
   <wangtile tileid="11" wangid="0,2,0,2,0,1,0,2"/>
   <wangtile tileid="12" wangid="0,1,0,1,0,2,0,2"/>
   <wangtile tileid="13" wangid="0,2,0,1,0,2,0,2"/>
   <wangtile tileid="14" wangid="0,1,0,2,0,2,0,2"/>
   <wangtile tileid="15" wangid="0,2,0,2,0,2,0,2"/>
   <wangtile tileid="16" wangid="0,1,0,1,0,1,0,1"/>
   <wangtile tileid="17" wangid="0,2,0,2,0,2,0,2"/>
  </wangset>
 </wangsets>
</tileset>
