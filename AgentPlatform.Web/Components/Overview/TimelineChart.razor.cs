using System.Globalization;
using AgentPlatform.Web.Overview;
using Microsoft.AspNetCore.Components;
using Plotly.Blazor;
using Plotly.Blazor.LayoutLib;
using Plotly.Blazor.Traces;
using Plotly.Blazor.Traces.ScatterLib;
using PlotLayout = Plotly.Blazor.Layout;

namespace AgentPlatform.Web.Components.Overview;

/// <summary>
/// A line chart of timeline series, drawn by plotly.js (Plotly.Blazor, served with the console: no CDN).
/// New series replace the old in place (<c>Plotly.react</c>), so a live refresh does not flicker.
/// </summary>
public sealed partial class TimelineChart : ComponentBase
{
    private readonly Config _config = new() { DisplayModeBar = Plotly.Blazor.ConfigLib.DisplayModeBarEnum.False, Responsive = true };
    private PlotlyChart? _chart;
    private IList<ITrace> _data = [];
    private PlotLayout _layout = new();
    private bool _drawn;

    [Parameter, EditorRequired]
    public string Id { get; set; } = "";

    [Parameter, EditorRequired]
    public string Title { get; set; } = "";

    /// <summary>The y axis's unit, shown beside it.</summary>
    [Parameter]
    public string? Unit { get; set; }

    [Parameter, EditorRequired]
    public IReadOnlyList<Series> Series { get; set; } = [];

    protected override void OnParametersSet()
    {
        _data = Series.Select(series => (ITrace)new Scatter
        {
            Name = series.Name,
            X = series.X.Cast<object>().ToList(),
            Y = series.Y.Select(y => (object)y!).ToList(),
            // Markers too: a line needs two points, and a first minute of traffic is one.
            Mode = ModeFlag.Lines | ModeFlag.Markers,
            Marker = new Plotly.Blazor.Traces.ScatterLib.Marker { Size = 4 },
            ConnectGaps = false,
        }).ToList();
        _layout = new PlotLayout
        {
            Margin = new Margin { L = 56, R = 16, T = 8, B = 32 },
            ShowLegend = true,
            Legend = [new Legend { Orientation = Plotly.Blazor.LayoutLib.LegendLib.OrientationEnum.H, Y = -0.2m }],
            YAxis = [new YAxis { Title = new Plotly.Blazor.LayoutLib.YAxisLib.Title { Text = Unit }, RangeMode = Plotly.Blazor.LayoutLib.YAxisLib.RangeModeEnum.ToZero }],
        };
    }

    protected override async Task OnAfterRenderAsync(bool firstRender)
    {
        // The first render draws (newPlot); later parameter changes redraw in place.
        if (!firstRender && _drawn && _chart is not null)
        {
            await _chart.React();
        }
        _drawn = true;
    }

    private string Latest() => string.Join("; ", Series.Select(s =>
        $"{s.Name}: {(s.Y.LastOrDefault(y => y is not null) is { } value ? value.ToString("0.###", CultureInfo.InvariantCulture) : "none")}"));
}
