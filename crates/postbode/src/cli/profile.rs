//! `postbode profile erase`: removes a profile and every stored trace of its data.

use reqwest::Method;

use super::{Api, ApiArgs};

#[derive(clap::Subcommand, Debug)]
pub enum ProfileCommand {
    /// Delete the profile with its subprofiles, and erase every stored event, delivery,
    /// attempt and message that carries its data; prints what was removed.
    Erase {
        id: String,
        #[command(flatten)]
        api: ApiArgs,
    },
}

pub async fn run(command: ProfileCommand) -> anyhow::Result<()> {
    match command {
        ProfileCommand::Erase { id, api } => {
            let answer = Api::new(api)?
                .call(Method::DELETE, &format!("/v1/profiles/{id}?erase=true"), None)
                .await?;
            let erased = &answer["erased"];
            println!(
                "Erased profile {id}: {} events, {} deliveries, {} attempts, {} messages.",
                erased["events"], erased["deliveries"], erased["attempts"], erased["messages"]
            );
        }
    }
    Ok(())
}
