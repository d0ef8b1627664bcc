using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

public sealed partial class Health : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();

    [Inject]
    public required PlatformApiClient Api { get; init; }

    [Inject]
    public required TimeProvider Clock { get; init; }

    private PlatformHealth? Report { get; set; }

    private DateTimeOffset CheckedAt { get; set; }

    protected override async Task OnInitializedAsync()
    {
        await RefreshAsync();
        _ = RefreshPeriodicallyAsync();
    }

    private async Task RefreshAsync()
    {
        Report = await Api.GetHealthAsync(_stop.Token);
        CheckedAt = Clock.GetUtcNow();
    }

    private async Task RefreshPeriodicallyAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(5), Clock);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                await RefreshAsync();
                await InvokeAsync(StateHasChanged);
            }
        }
        catch (OperationCanceledException)
        {
            // The page was closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _stop.Dispose();
    }
}
