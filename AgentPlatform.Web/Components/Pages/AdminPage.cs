using AgentPlatform.Web.Platform;
using Microsoft.AspNetCore.Components;

namespace AgentPlatform.Web.Components.Pages;

/// <summary>
/// A console page that calls the admin API: one way to run a call, show that it is running, and turn
/// a refusal or an unreachable Api into a plain message (never an exception on the page).
/// </summary>
public abstract class AdminPage : ComponentBase
{
    [Inject]
    protected AdminApiClient Admin { get; set; } = null!;

    /// <summary>What went wrong with the last call, for the operator; null when it worked.</summary>
    protected string? Error { get; set; }

    /// <summary>A call is running: its button shows it.</summary>
    protected bool Busy { get; private set; }

    protected async Task RunAsync(Func<Task> call)
    {
        Busy = true;
        Error = null;
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
}
