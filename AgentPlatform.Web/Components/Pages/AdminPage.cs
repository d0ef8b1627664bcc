using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// A console page that calls the admin API: one way to run a call, show that it is running, and turn
/// a refusal or an unreachable Api into a plain message (never an exception on the page) — and, for
/// live pages, to read again on a period while the page is open.
/// </summary>
public abstract class AdminPage : ComponentBase, IDisposable
{
    private readonly CancellationTokenSource _closed = new();

    /// <summary>The error shown is a refresh's, so the next refresh that works clears it (an action's stays until the next action).</summary>
    private bool _errorIsRefreshs;

    [Inject]
    protected AdminApiClient Admin { get; set; } = null!;

    /// <summary>What went wrong with the last call, for the operator; null when it worked.</summary>
    protected string? Error { get; set; }

    /// <summary>A call is running: its button shows it.</summary>
    protected bool Busy { get; private set; }

    /// <summary>Cancelled when the page closes, for calls that should not outlive it.</summary>
    protected CancellationToken Closed => _closed.Token;

    protected async Task RunAsync(Func<Task> call)
    {
        Busy = true;
        Error = null;
        _errorIsRefreshs = false;
        try
        {
            await call();
        }
        catch (AdminApiException exception)
        {
            Error = exception.Message;
        }
        finally
        {
            Busy = false;
        }
    }

    /// <summary>
    /// Calls <paramref name="read"/> every <paramref name="period"/> until the page closes, showing
    /// what it read (or why it could not) without a reload. Started once the page is interactive:
    /// a prerendered page has no one to update.
    /// </summary>
    protected void RefreshEvery(TimeSpan period, Func<CancellationToken, Task> read) => _ = RefreshAsync(period, read);

    private async Task RefreshAsync(TimeSpan period, Func<CancellationToken, Task> read)
    {
        using var timer = new PeriodicTimer(period);
        try
        {
            while (await timer.WaitForNextTickAsync(Closed))
            {
                await InvokeAsync(async () =>
                {
                    try
                    {
                        await read(Closed);
                        if (_errorIsRefreshs)
                        {
                            Error = null;
                            _errorIsRefreshs = false;
                        }
                    }
                    catch (AdminApiException exception)
                    {
                        Error = exception.Message;
                        _errorIsRefreshs = true;
                    }
                    StateHasChanged();
                });
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Cancelled, not disposed: a refresh still finishing may read the token once more.
    public void Dispose()
    {
        _closed.Cancel();
        GC.SuppressFinalize(this);
    }
}
